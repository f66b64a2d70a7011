"""RAG chat: retrieve, refuse when nothing relevant was found, otherwise generate with the LLM.

Generation runs in worker threads (never on the event loop) and at most `llm.max_concurrent` at
once; a request that waits longer than `llm.queue_timeout_s` for a slot is turned away with
`LLMBusy` (503 + Retry-After) instead of piling up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kb_server.runtime.container import Services
from kb_server.schemas import AnswerSentence, Citation
from kb_server.services import attribution, multi_search, quoting
from kb_server.services.citations import neighbour_runs, passage_source, run_citation
from kb_server.services.content_words import restates
from kb_server.services.generation_pool import GenerationPool
from kb_server.services.metrics import ApiMetrics
from kb_server.services.passage_fit import TokenCounter, estimate_tokens, fit_passages
from kb_server.services.sentences import latin_full_stops
from llm import LLM, NO_ANSWER, LLMBusy, LLMError, Passage, build_llm, build_rag_messages, detect_language
from llm.base import PromptStyle
from llm.refusal import is_model_refusal

log = logging.getLogger(__name__)

Mode = Literal["generate", "quote"]
RefusedBy = Literal["threshold", "model", "unsupported"]


@dataclass
class ChatEngine:
    """The LLM (or why there is none) and the slots that bound concurrent generations."""

    llm: LLM | None
    unavailable: LLMError | None
    slots: threading.BoundedSemaphore
    queue_timeout_s: float
    pool: GenerationPool
    metrics: ApiMetrics | None = None
    default_mode: Mode = "generate"
    # A model refusal while a passage scored at least this is counted as a suspected false refusal.
    false_refusal_min_score: float = 0.6
    prompt_style: PromptStyle = "brief"
    passage_tokens: int = 0  # passages cut to about this many tokens in all (0: whole)

    def count_tokens(self, text: str) -> int:
        count: TokenCounter | None = getattr(self.llm, "count_tokens", None)
        return count(text) if count is not None else estimate_tokens(text)

    def choose_mode(self, requested: Mode | None) -> tuple[Mode, str | None]:
        """The mode that will answer, and why it differs from the one asked for ("no_llm")."""
        mode = requested or self.default_mode
        if mode == "generate" and self.llm is None:
            return "quote", "no_llm"
        return mode, None

    def observe(self, mode: str, outcome: str, seconds: float, prompt_tokens: int, completion_tokens: int) -> None:
        if self.metrics is None:
            return
        self.metrics.chat_requests.labels(outcome).inc()
        self.metrics.chat_seconds.labels(mode).observe(seconds)
        self.metrics.chat_tokens.labels("prompt").inc(prompt_tokens)
        self.metrics.chat_tokens.labels("completion").inc(completion_tokens)

    @classmethod
    def build(cls, services: Services) -> ChatEngine:
        settings = services.settings.llm
        llm: LLM | None = None
        problem: LLMError | None = None
        try:
            llm = build_llm(settings, cache_dir=services.paths.cache)
        except LLMError as exc:
            log.warning("chat is unavailable: %s", exc)
            problem = exc
        warm_up = getattr(llm, "warm_up", None)
        if warm_up is not None:
            # In the background: it holds the model, so a first question waits for it rather than startup.
            threading.Thread(target=_warm_up, args=(warm_up,), name="llm-warm-up", daemon=True).start()
        return cls(
            llm,
            problem,
            threading.BoundedSemaphore(settings.max_concurrent),
            settings.queue_timeout_s,
            GenerationPool(settings.max_concurrent, services.settings.chat.generation_nice),
            default_mode=services.settings.chat.mode,
            false_refusal_min_score=services.settings.chat.false_refusal_min_score,
            prompt_style=getattr(llm, "prompt_style", "brief"),
            passage_tokens=services.settings.chat.passage_tokens,
        )

    def close(self) -> None:
        self.pool.shutdown()
        if self.llm is not None:
            self.llm.close()

    def acquire(self) -> None:
        """Take a generation slot or raise LLMBusy after the queue timeout."""
        if not self.slots.acquire(timeout=self.queue_timeout_s):
            raise LLMBusy(f"every generation slot stayed busy for {self.queue_timeout_s:.0f} s")

    def require_llm(self) -> LLM:
        if self.llm is None:
            raise self.unavailable or LLMError("no LLM is configured (llm.backend: none)")
        return self.llm


def _warm_up(warm_up: Any) -> None:
    started = time.monotonic()
    try:
        warm_up()
    except LLMError as exc:
        log.warning("LLM warm-up failed: %s", exc)
        return
    log.info("LLM warm-up: fixed prompt prefix evaluated in %.1f s", time.monotonic() - started)


@dataclass
class Prepared:
    question: str
    language: str
    citations: list[Citation]
    messages: list[dict[str, str]] = field(default_factory=list)
    mode: Mode = "generate"
    fallback: str | None = None
    quoted: list[quoting.QuotedSentence] | None = None
    searched_for: str | None = None  # the follow-up rewritten to stand alone, when it was

    @property
    def query(self) -> str:
        """What the passages were searched (and their sentences picked) for."""
        return self.searched_for or self.question

    @property
    def refused(self) -> bool:
        return not self.citations


def prepare(
    services: Services,
    kb: str | Sequence[str],
    question: str,
    history: list[dict[str, str]] | None,
    top_k: int | None,
    score_threshold: float | None,
    mode: tuple[Mode, str | None] = ("generate", None),
    engine: ChatEngine | None = None,
    searched_for: str | None = None,
    context: str | None = None,
) -> Prepared:
    """Retrieve passages and build the prompt; no citations means the KB has no answer.

    `kb` is one knowledge base or several (their hits fused on score, see multi_search).

    With an ``engine``, the prompt is in its model's style and the passages are cut to its budget.
    With ``searched_for`` (the question made standalone, kb_server.services.rewrite), that is what is
    searched; the model still gets the question as asked, after the history. With ``context`` (the
    words a follow-up carries from earlier turns), the question is searched with them, weighted
    below its own words, and ``searched_for`` is how that reads.
    """
    chat = services.settings.chat
    k = top_k or chat.top_k
    threshold = chat.score_threshold if score_threshold is None else score_threshold
    kbs = [kb] if isinstance(kb, str) else kb
    query = question if context else searched_for or question
    hits = multi_search.search_kbs(services, kbs, query, k, threshold, context=context)
    groups = neighbour_runs(hits) if chat.merge_neighbours else [[h] for h in hits]
    citations = [run_citation(n, run, hits) for n, run in enumerate(groups, start=1)]
    language = detect_language(question)
    prepared = Prepared(question, language, citations, mode=mode[0], fallback=mode[1], searched_for=searched_for)
    if citations and prepared.mode == "generate":
        style: PromptStyle = engine.prompt_style if engine else "brief"
        budget, count = (engine.passage_tokens, engine.count_tokens) if engine else (0, estimate_tokens)
        texts = fit_passages(prepared.query, [c.text for c in citations], budget, count)
        passages = [
            Passage(n=c.n, text=t, source=passage_source(c)) for c, t in zip(citations, texts, strict=True) if t
        ]
        prepared.messages = build_rag_messages(question, passages, history, language, style=style)
    return prepared


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    refused: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    refused_by: RefusedBy | None = None  # threshold: nothing scored enough; model: no answer; unsupported: invented
    mode: Mode = "generate"
    fallback: str | None = None
    sentences: list[AnswerSentence] = field(default_factory=list)

    @property
    def unsupported(self) -> int:
        return sum(s.unsupported for s in self.sentences)


def quote_answer(prepared: Prepared) -> attribution.Attributed:
    """The quote answer, picked once per request (the stream and its `done` event share it)."""
    if prepared.quoted is None:
        prepared.quoted = quoting.quote(prepared.query, prepared.citations)
    return attribution.from_quote(prepared.quoted)


def quote_text(prepared: Prepared) -> str:
    return quote_answer(prepared).text


def settle(engine: ChatEngine, prepared: Prepared, text: str) -> Answer:
    """The answer as the API reports it: one refusal signal whoever refused, every sentence cited
    from the passage that backs it (or flagged unsupported)."""
    mode, fallback = prepared.mode, prepared.fallback
    if prepared.refused:
        return Answer(NO_ANSWER[prepared.language], [], True, refused_by="threshold", mode=mode, fallback=fallback)
    if mode == "generate" and is_model_refusal(text):
        return _model_refusal(engine, prepared, "model")
    if mode == "generate" and restates(text, prepared.query):
        # The 0.5B sometimes answers with the question itself (or the heading that asks it, copied
        # from the passage): nothing a user can use, so the passages' own sentences answer instead.
        mode, fallback = "quote", "restated"
    if prepared.language == "en":
        text = latin_full_stops(text)
    grounded = quote_answer(prepared) if mode == "quote" else attribution.attribute(text.strip(), prepared.citations)
    if engine.metrics is not None:
        engine.metrics.chat_sentences.labels("unsupported").inc(grounded.unsupported)
        engine.metrics.chat_sentences.labels("supported").inc(len(grounded.sentences) - grounded.unsupported)
    if grounded.sentences and grounded.unsupported == len(grounded.sentences):
        # Nothing of it is in the passages: the model answered from its own memory (the 0.5B names
        # the capital of France from a passage about GDB), which this server must not pass on.
        return _model_refusal(engine, prepared, "unsupported")
    return Answer(grounded.text, prepared.citations, False, mode=mode, fallback=fallback, sentences=grounded.sentences)


def _model_refusal(engine: ChatEngine, prepared: Prepared, by: RefusedBy) -> Answer:
    best = max(c.score for c in prepared.citations)
    if best >= engine.false_refusal_min_score and engine.metrics is not None:
        engine.metrics.chat_suspected_false_refusals.inc()
    no_answer = NO_ANSWER[prepared.language]
    return Answer(no_answer, prepared.citations, True, refused_by=by, mode=prepared.mode, fallback=prepared.fallback)


def answer(services: Services, engine: ChatEngine, prepared: Prepared) -> Answer:
    """Generate (or quote) the whole answer (blocking: call from a worker thread)."""
    started = time.monotonic()
    if prepared.refused or prepared.mode == "quote":
        text = "" if prepared.refused else quote_text(prepared)
        done = settle(engine, prepared, text)
        engine.observe("json", "refused" if done.refused else "quoted", time.monotonic() - started, 0, 0)
        return done
    llm = engine.require_llm()
    engine.acquire()
    try:
        completion = engine.pool.run(lambda: llm.generate(prepared.messages))
    finally:
        engine.slots.release()
    elapsed = time.monotonic() - started
    done = settle(engine, prepared, completion.text)
    outcome = "refused" if done.refused else "answered"
    engine.observe("json", outcome, elapsed, completion.prompt_tokens, completion.completion_tokens)
    done.prompt_tokens, done.completion_tokens, done.elapsed_s = (
        completion.prompt_tokens,
        completion.completion_tokens,
        elapsed,
    )
    return done


class TokenStream:
    """Text deltas of one generation; holds a slot from creation until closed or exhausted.

    The slot is taken when the stream is created, so a busy server answers 503 before any
    response has started.
    """

    def __init__(self, engine: ChatEngine, prepared: Prepared) -> None:
        self.prepared = prepared
        self.tokens = 0
        self._released = False
        self._started = time.monotonic()
        self._metrics_engine = engine
        if prepared.refused or prepared.mode == "quote":
            text = NO_ANSWER[prepared.language] if prepared.refused else quote_text(prepared)
            self._deltas: Iterator[str] = iter([text])
            self._engine: ChatEngine | None = None
            return
        llm = engine.require_llm()
        engine.acquire()
        self._engine = engine
        try:
            self._deltas = engine.pool.stream(lambda: llm.stream(prepared.messages))
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[str]:
        try:
            for delta in self._deltas:
                if delta:
                    self.tokens += 1
                    if self.tokens == 1 and self._metrics_engine.metrics is not None:
                        self._metrics_engine.metrics.chat_first_token.observe(time.monotonic() - self._started)
                    yield delta
        finally:
            self.close()

    def result(self, text: str) -> Answer:
        """The answer the streamed `text` amounts to (refusal detected once the whole text is in)."""
        return settle(self._metrics_engine, self.prepared, text)

    def close(self) -> None:
        if self._released:
            return
        self._released = True
        outcome = "refused" if self.prepared.refused else ("quoted" if self.prepared.mode == "quote" else "answered")
        self._metrics_engine.observe("stream", outcome, time.monotonic() - self._started, 0, self.tokens)
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()
        if self._engine is not None:
            self._engine.slots.release()
