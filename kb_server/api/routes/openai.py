"""An OpenAI-compatible face: every knowledge base is a "model", so any OpenAI client can ask it;
`kb1+kb2` asks several at once (each searched with its own embedder, the passages fused on score)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from kb_server.api.deps import ChatDep, ServicesDep
from kb_server.api.sse import in_threads, sse_event
from kb_server.errors import InvalidInput
from kb_server.schemas import MAX_KBS, ErrorBody
from kb_server.services import chat as chat_service
from kb_server.services import kbs as kb_service
from kb_server.services import rewrite as rewrite_service
from kb_server.services.citations import citations_payload
from llm import LLMError

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 503: {"model": ErrorBody}}


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class OpenAIChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(description='the knowledge base to ask, or several joined by "+" (e.g. "faq+manuals")')
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False


def model_kbs(model: str) -> list[str]:
    """The knowledge bases a model name asks ("+" never occurs in a KB's name).

    Raises:
        InvalidInput: an empty name in it, or more than `MAX_KBS` KBs.
    """
    names = list(dict.fromkeys(model.split("+")))
    if not all(names) or len(names) > MAX_KBS:
        raise InvalidInput(f'model {model!r}: a knowledge base, or up to {MAX_KBS} joined by "+"', code="invalid_model")
    return names


@router.get("/models")
def list_models(services: ServicesDep) -> dict[str, Any]:
    """Knowledge bases, listed as OpenAI models, then the combined models of `openai.combined_models`
    whose knowledge bases all exist."""
    kbs = {kb.name: int(kb.created_at.timestamp()) for kb, _, _ in kb_service.list_kbs(services)}
    models = [(name, created) for name, created in kbs.items()]
    for combined in services.settings.openai.combined_models:
        names = combined.split("+")
        if all(name in kbs for name in names):
            models.append((combined, max(kbs[name] for name in names)))
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "kb-server"} for name, created in models
        ],
    }


@router.post("/chat/completions", response_model=None, responses=_errors)
def chat_completions(body: OpenAIChatRequest, services: ServicesDep, engine: ChatDep) -> Response | dict[str, Any]:
    """RAG chat in OpenAI's chat-completions shape; `model` names the knowledge base (or several
    joined by "+", each citation then naming its `kb`). The content
    is the answer with each sentence's `[n]` markers; the cited passages and the sentences come in
    extra `citations` and `sentences` fields (in the last chunk when streaming, whose deltas are
    the model's raw text). Stateless: a follow-up is searched as a standalone question made from
    the earlier `messages` (`chat.rewrite`), given in an extra `searched_for` field."""
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InvalidInput("the last message must be a non-empty user message", code="invalid_messages")
    question = turns[-1].text()
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    mode = engine.choose_mode(None)
    searched = rewrite_service.standalone(services.settings.chat, engine, question[:4000], history, mode=mode[0])
    prepared = chat_service.prepare(
        services,
        model_kbs(body.model),
        question[:4000],
        history,
        None,
        None,
        mode,
        engine,
        searched.searched_for,
        searched.context,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        stream = chat_service.TokenStream(engine, prepared)
        frames = _chunks(stream, completion_id, created, body.model)
        return StreamingResponse(
            in_threads(frames), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    answer = chat_service.answer(services, engine, prepared)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
        "citations": citations_payload(answer.citations),
        "refused": answer.refused,
        "refused_by": answer.refused_by,
        "sentences": [s.model_dump() for s in answer.sentences],
        "searched_for": prepared.searched_for,
    }


def _chunks(stream: chat_service.TokenStream, completion_id: str, created: int, model: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse_event(None, body)

    try:
        yield chunk({"role": "assistant", "content": ""})
        parts: list[str] = []
        for delta in stream:
            parts.append(delta)
            yield chunk({"content": delta})
        done = stream.result("".join(parts))
        citations = citations_payload(done.citations)
        sentences = [s.model_dump() for s in done.sentences]
        yield chunk(
            {},
            "stop",
            citations=citations,
            refused=done.refused,
            refused_by=done.refused_by,
            sentences=sentences,
            searched_for=stream.prepared.searched_for,
        )
    except LLMError as exc:
        yield sse_event(None, {"error": {"message": str(exc), "type": "llm_error", "code": "llm_error"}})
    finally:
        stream.close()
    yield sse_event(None, "[DONE]")
