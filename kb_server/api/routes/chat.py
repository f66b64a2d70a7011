"""RAG chat over a knowledge base."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from catalog.errors import NotFound
from kb_server.api.deps import ChatDep, OwnerDep, ServicesDep
from kb_server.api.sse import in_threads, sse_event
from kb_server.schemas import ChatRequest, ChatResponse, ErrorBody, RewriteRequest, RewriteResponse
from kb_server.services import chat as chat_service
from kb_server.services import conversations as conversation_service
from kb_server.services import rewrite as rewrite_service
from kb_server.services.citations import citations_payload
from llm import LLMError

router = APIRouter(tags=["chat"])
_errors: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
    503: {"model": ErrorBody},
}

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("/api/chat", response_model=ChatResponse, responses=_errors)
def chat(body: ChatRequest, services: ServicesDep, engine: ChatDep, owner: OwnerDep) -> Response | ChatResponse:
    """Answer `question` from the knowledge base `kb` (or several, `kbs`: each searched with its own
    embedder, the passages taken from their hits fused on score; each citation names its `kb`),
    citing passages as `[n]`.

    When no passage scores at least `score_threshold` (default `chat.score_threshold`), the answer
    is the fixed "no answer in the knowledge base" sentence with `refused: true, refused_by:
    "threshold"`, and no model runs; when the model says it has no answer (in any wording, or only
    "[1]"), the same sentence with `refused_by: "model"`. `mode: "quote"` (default `chat.mode`)
    answers with the passages' most relevant sentences, cited, without an LLM — also what happens,
    with `fallback: "no_llm"`, when no LLM is installed. Every sentence is cited from the passage
    that holds its words, whether or not the model wrote `[n]`: `sentences` lists them with their
    `citations`, `unsupported: true` where no passage backs one, and `answer` is their text with
    the markers. With `stream: true` the answer comes as Server-Sent Events: `citations`, then
    `token` events (`{"delta"}`, the model's raw text), then `done` (the JSON response's fields,
    the cited answer; authoritative), or `error` (`{"code", "detail"}`).

    A follow-up (a question with history) is searched as a question that stands on its own
    (`chat.rewrite`: rewritten by the model, or with the previous question's key terms), returned
    as `searched_for`; `rewrite: false` searches it as asked. The answer is generated from the
    question as asked, after the history.

    With `conversation_id` (see `/api/conversations`; `X-Client-Id` names whose), `kb`/`kbs` may be
    left out (the conversation's; a KB that is not one of them is a 409 `conversation_kb_mismatch`),
    the history is the conversation's recent turns, and the question and its answer are stored in it
    before the response (or the `done` event) is sent; an unknown conversation is a 404. A `turn_id`
    sent again returns the stored answer, generated and stored once (the same id with another
    question is a 409 `turn_id_reused`).
    """
    kbs = conversation_service.resolve_kbs(services, owner, body.conversation_id, body.kb_names)
    stored = conversation_service.stored_answer(services, owner, body.conversation_id, body.turn_id, body.question)
    if stored is not None:
        return _replayed(stored) if body.stream else stored
    sent = [t.model_dump() for t in body.history]
    history = conversation_service.chat_history(services, owner, body.conversation_id, sent)
    keep = conversation_service.recorder(services, owner, body.conversation_id, body.question, body.turn_id)
    mode = engine.choose_mode(body.mode)
    searched = rewrite_service.Rewrite(body.question)
    if body.rewrite:
        searched = rewrite_service.standalone(services.settings.chat, engine, body.question, history, mode=mode[0])
    prepared = chat_service.prepare(
        services,
        kbs,
        body.question,
        history,
        body.top_k,
        body.score_threshold,
        mode,
        engine,
        searched.searched_for,
        searched.context,
    )
    if body.stream:
        stream = chat_service.TokenStream(engine, prepared)
        return StreamingResponse(in_threads(_frames(stream, keep)), media_type="text/event-stream", headers=SSE_HEADERS)
    return keep(_response(chat_service.answer(services, engine, prepared), prepared))


@router.post("/api/chat/standalone", response_model=RewriteResponse)
def standalone_question(body: RewriteRequest, services: ServicesDep, engine: ChatDep) -> RewriteResponse:
    """What `POST /api/chat` would search for `question` asked after `history`: the follow-up
    rewritten to stand on its own (`method` llm or keywords; default `chat.rewrite`), or null when
    it is searched as asked. For evaluations and clients that search themselves."""
    history = [t.model_dump() for t in body.history]
    found = rewrite_service.standalone(services.settings.chat, engine, body.question, history, body.method)
    return RewriteResponse(
        question=body.question,
        searched_for=found.searched_for,
        method=found.method,
        query=found.query,
        context=found.context,
    )


def _response(answer: chat_service.Answer, prepared: chat_service.Prepared) -> ChatResponse:
    return ChatResponse(
        answer=answer.text,
        citations=answer.citations,
        refused=answer.refused,
        refused_by=answer.refused_by,
        mode=answer.mode,
        fallback=answer.fallback,
        sentences=answer.sentences,
        unsupported=answer.unsupported,
        searched_for=prepared.searched_for,
    )


def _replayed(stored: ChatResponse) -> StreamingResponse:
    """A retried turn as a stream: its passages and its stored answer, nothing generated."""
    frames = iter(
        [
            sse_event("citations", {"citations": [c.model_dump() for c in stored.citations]}),
            sse_event("done", stored.model_dump(mode="json")),
        ]
    )
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


def _frames(stream: chat_service.TokenStream, keep: Callable[[ChatResponse], ChatResponse]) -> Iterator[str]:
    citations = citations_payload(stream.prepared.citations)
    parts: list[str] = []
    try:
        yield sse_event("citations", {"citations": citations})
        for delta in stream:
            parts.append(delta)
            yield sse_event("token", {"delta": delta})
        response = keep(_response(stream.result("".join(parts)), stream.prepared))
        # stored before `done`, so a client that saw it can reload the conversation
        yield sse_event("done", response.model_dump(mode="json"))
    except LLMError as exc:
        yield sse_event("error", {"code": "llm_error", "detail": str(exc)})
    except NotFound as exc:
        yield sse_event("error", {"code": exc.code, "detail": exc.detail})
    finally:
        stream.close()
