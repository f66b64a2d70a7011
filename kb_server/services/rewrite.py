"""What a question is searched for: a follow-up rewritten to stand on its own (`chat.rewrite`).

`llm`: the chat model rewrites it from the recent turns (llm.rewrite_prompts), within
`chat.rewrite_max_tokens` and `chat.rewrite_timeout_s`, on the generation slots like an answer.
When there is no model, the answer is quoted (no model is what quote mode promises), the slots
stay busy, the model fails or its reply is unusable, the key terms of the previous question are
carried instead (kb_server.services.followup) — and so always with `keywords`. A reply that drops
the follow-up's own words or adds none of the earlier turns' is not a rewrite of it (`rewrites`). A question
without earlier turns is searched as asked. Only the search uses the rewrite: the answer is
generated from the question as asked, with the history.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kb_server.services.chat import ChatEngine, Mode
from kb_server.services.content_words import content_words
from kb_server.services.followup import carried_terms, looks_dependent, shown_with
from kb_server.settings import ChatSettings
from llm import NO_ANSWER, LLMError
from llm.base import Message
from llm.rewrite_prompts import build_rewrite_messages, clean_rewrite

log = logging.getLogger(__name__)

Method = Literal["llm", "keywords"]
HISTORY_MESSAGES = 4  # the last two turns: a follow-up leans on what was just said


@dataclass(frozen=True)
class Rewrite:
    query: str  # what search uses
    searched_for: str | None = None  # the rewritten question; None: searched as asked
    method: Method | None = None
    context: str | None = None  # words carried from earlier turns, searched below the query's own


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()).rstrip("?？") == " ".join(b.lower().split()).rstrip("?？")


def standalone(
    settings: ChatSettings,
    engine: ChatEngine | None,
    question: str,
    history: Sequence[Message],
    method: Method | None = None,
    mode: Mode = "generate",
) -> Rewrite:
    """The query to search for `question` asked after `history` (oldest first).

    `method` overrides `chat.rewrite` (`off` there still means no rewriting unless one is given).
    """
    chosen = method or (None if settings.rewrite == "off" else settings.rewrite)
    # A refusal says nothing about the subject ("知识库中没有找到…" would lend its words to the rewrite).
    turns = [m for m in history if m.get("role") in ("user", "assistant")][-HISTORY_MESSAGES:]
    recent = [m for m in turns if m["role"] == "user" or m["content"].strip() not in NO_ANSWER.values()]
    if chosen is None or not any(m["role"] == "user" for m in recent):
        return Rewrite(question)
    if chosen == "llm" and mode == "generate" and engine is not None and engine.llm is not None:
        text = rewrite_with_llm(engine, question, recent, settings.rewrite_max_tokens, settings.rewrite_timeout_s)
        if text is not None and _same(text, question) and not looks_dependent(question):
            return Rewrite(question)  # the model kept it as it was, and it reads as standalone
        if text is not None and not _same(text, question) and rewrites(text, question, recent):
            return Rewrite(text, text, "llm")
    terms = carried_terms(question, recent)
    if not terms:
        return Rewrite(question)
    return Rewrite(question, shown_with(question, terms), "keywords", " ".join(terms))


def rewrites(text: str, question: str, history: Sequence[Message]) -> bool:
    """Whether the model's `text` is `question` made standalone, judged by content words: it keeps
    at least half of the question's own (a small model often just repeats the previous question) and,
    when the question leans on earlier turns, adds one of theirs (else nothing was resolved)."""
    own, got = content_words(question), content_words(text)
    if len(own & got) * 2 < len(own):
        return False
    if not looks_dependent(question):
        return True
    earlier = set().union(*(content_words(m["content"]) for m in history))
    return bool((got - own) & earlier)


def rewrite_with_llm(
    engine: ChatEngine, question: str, history: Sequence[Message], max_tokens: int, timeout_s: float
) -> str | None:
    """The model's standalone version of `question`, cleaned; None when it is not to be had in time."""
    llm = engine.llm
    if llm is None:
        return None
    messages = build_rewrite_messages(question, list(history), engine.prompt_style)
    started = time.monotonic()
    if not engine.slots.acquire(timeout=min(timeout_s, engine.queue_timeout_s)):
        log.info("question rewrite skipped: every generation slot is busy")
        return None
    parts: list[str] = []
    try:
        deadline = started + timeout_s
        stream = engine.pool.stream(
            lambda: llm.stream(messages, max_tokens=max_tokens, temperature=0.0), deadline=deadline
        )
        try:
            for delta in stream:
                parts.append(delta)
                text = "".join(parts)
                if "\n" in text.strip():  # the first line is the question; the rest would be an answer
                    break
        finally:
            stream.close()
    except TimeoutError:
        log.info("question rewrite gave up after %.1f s", time.monotonic() - started)
        return None
    except LLMError as exc:
        log.warning("question rewrite failed: %s", exc)
        return None
    finally:
        engine.slots.release()
    cleaned = clean_rewrite("".join(parts), question, list(history))
    log.debug("question rewrite in %.1f s: %r -> %r", time.monotonic() - started, question, cleaned)
    return cleaned
