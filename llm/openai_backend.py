"""Any OpenAI-compatible chat server, over httpx.

Ollama, vLLM, the llama.cpp server and Xinference all speak this protocol.

Only ``POST {base_url}/chat/completions`` is used, so no vendor SDK is needed. The
httpx transport can be injected, which lets callers add retries or a proxy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from llm.base import Completion, Message, PromptStyle
from llm.errors import LLMGenerationError, LLMUnavailable
from llm.settings import LLMSettings

# Fail fast on a dead host even though a generation may take minutes.
_CONNECT_TIMEOUT_S = 5.0
_BODY_EXCERPT_CHARS = 300


class OpenAICompatibleLLM:
    """Chat completions from a remote server; ``name`` is ``openai:<model>``."""

    def __init__(self, settings: LLMSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        cfg = settings.openai
        self._settings = settings
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(cfg.timeout_s, connect=min(_CONNECT_TIMEOUT_S, cfg.timeout_s)),
            transport=transport,
        )
        self.name = f"openai:{cfg.model}"
        # The remote model is whatever the server serves: llm.preset only says which family it is.
        preset = settings.resolved_preset()
        self.preset: str = preset.name
        self.prompt_style: PromptStyle = preset.prompt_style

    def _payload(
        self,
        messages: list[Message],
        max_tokens: int | None,
        temperature: float | None,
        stop: list[str] | None,
        stream: bool,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._settings.openai.model,
            "messages": messages,
            "max_tokens": self._settings.max_tokens if max_tokens is None else max_tokens,
            "temperature": self._settings.temperature if temperature is None else temperature,
            "stream": stream,
        }
        if stop:
            payload["stop"] = stop
        return payload

    def _unavailable(self, exc: httpx.TransportError) -> LLMUnavailable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is unreachable"
        return LLMUnavailable(f"LLM server at {self.url} {kind}: {exc!r}")

    def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        body = response.read().decode("utf-8", errors="replace")[:_BODY_EXCERPT_CHARS]
        raise LLMGenerationError(
            f"LLM server at {self.url} returned HTTP {response.status_code}: {body}",
            status_code=response.status_code,
        )

    def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate a whole answer with one request.

        Raises:
            LLMUnavailable: connection refused, network error or timeout.
            LLMGenerationError: non-2xx status, or a body that is not a chat completion.
        """
        payload = self._payload(messages, max_tokens, temperature, stop, stream=False)
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        self._check_status(response)
        try:
            data = response.json()
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return Completion(
                text=choice["message"].get("content") or "",
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                finish_reason=choice.get("finish_reason"),
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMGenerationError(
                f"LLM server at {self.url} sent an unexpected body: {response.text[:_BODY_EXCERPT_CHARS]}"
            ) from exc

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield text deltas from the server's SSE stream.

        Raises:
            LLMUnavailable: connection refused, network error or timeout.
            LLMGenerationError: non-2xx status, or an error event in the stream.
        """
        payload = self._payload(messages, max_tokens, temperature, stop, stream=True)
        try:
            with self._client.stream("POST", self.url, json=payload) as response:
                self._check_status(response)
                for data in iter_sse_data(response.iter_lines()):
                    delta = _delta_text(data, self.url)
                    if delta:
                        yield delta
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """Yield the ``data:`` payloads of an SSE stream, stopping at ``[DONE]``.

    Several ``data:`` lines of one event are joined with newlines (SSE spec).
    """
    buffer: list[str] = []
    for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if not line.startswith("data:"):
            continue  # comments (": ping"), event:, id:, retry: fields
        value = line[5:].removeprefix(" ")
        if value == "[DONE]":
            return
        buffer.append(value)
    if buffer:
        yield "\n".join(buffer)


def _delta_text(data: str, url: str) -> str | None:
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise LLMGenerationError(f"LLM server at {url} sent a bad event: {data[:_BODY_EXCERPT_CHARS]}") from exc
    if "error" in event:
        raise LLMGenerationError(f"LLM server at {url} failed mid-stream: {event['error']}")
    choices = event.get("choices") or []
    if not choices:
        return None  # e.g. a final usage-only chunk
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else None
