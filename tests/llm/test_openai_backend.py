"""``OpenAICompatibleLLM`` against a real ``llama_cpp.server`` serving the bundled model."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llm import LLM, LLMGenerationError, LLMSettings, LLMUnavailable, OpenAISettings, build_llm
from llm.openai_backend import OpenAICompatibleLLM, iter_sse_data

API_KEY = "test-key"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a short story about a cat who sails."}]
STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(bundled_gguf: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        bundled_gguf,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--api_key",
        API_KEY,
        "--verbose",
        "False",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/v1", proc, log_path)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    headers = {"Authorization": f"Bearer {API_KEY}"}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", headers=headers, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server not ready after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-2000:]}")


def _settings(base_url: str, api_key: str | None = API_KEY, timeout_s: float = 60.0) -> LLMSettings:
    return LLMSettings(
        backend="openai",
        max_tokens=48,
        temperature=0.0,
        openai=OpenAISettings(base_url=base_url, model="smollm2", api_key=api_key, timeout_s=timeout_s),
    )


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[OpenAICompatibleLLM]:
    llm = OpenAICompatibleLLM(_settings(server_url))
    yield llm
    llm.close()


@pytest.mark.integration
def test_factory_builds_the_openai_backend(server_url: str) -> None:
    llm = build_llm(_settings(server_url + "/"))
    assert isinstance(llm, OpenAICompatibleLLM)
    assert isinstance(llm, LLM)
    assert llm.name == "openai:smollm2"
    assert llm.url == f"{server_url}/chat/completions"
    llm.close()


@pytest.mark.integration
def test_generate(client: OpenAICompatibleLLM) -> None:
    completion = client.generate(QUESTION)
    assert completion.text.strip()
    assert completion.prompt_tokens > 0
    assert 0 < completion.completion_tokens <= 48
    assert completion.finish_reason in ("stop", "length")


@pytest.mark.integration
def test_stream_joins_to_the_generated_answer(client: OpenAICompatibleLLM) -> None:
    deltas = list(client.stream(QUESTION))
    assert len(deltas) >= 3
    assert "".join(deltas) == client.generate(QUESTION).text


@pytest.mark.integration
def test_max_tokens_and_stop_are_sent(client: OpenAICompatibleLLM) -> None:
    short = client.generate(STORY, max_tokens=5)
    assert (short.completion_tokens, short.finish_reason) == (5, "length")
    full = client.generate(STORY, max_tokens=40).text
    stop_word = full.split()[len(full.split()) // 2]
    stopped = client.generate(STORY, max_tokens=40, stop=[stop_word])
    assert stopped.finish_reason == "stop"
    assert stop_word not in stopped.text
    assert full.startswith(stopped.text)


@pytest.mark.integration
def test_missing_api_key_is_a_generation_error(server_url: str) -> None:
    llm = OpenAICompatibleLLM(_settings(server_url, api_key=None))
    with pytest.raises(LLMGenerationError, match="HTTP 401") as excinfo:
        llm.generate(QUESTION)
    assert excinfo.value.status_code == 401
    with pytest.raises(LLMGenerationError, match="HTTP 401"):
        list(llm.stream(QUESTION))
    llm.close()


@pytest.mark.integration
def test_closed_port_is_unavailable_quickly() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    llm = OpenAICompatibleLLM(_settings(url))
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match=f"{url}/chat/completions"):
        llm.generate(QUESTION)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        list(llm.stream(QUESTION))
    assert time.monotonic() - started < 2.0
    llm.close()


@pytest.mark.unit
def test_sse_parser_handles_comments_multiline_and_done() -> None:
    lines = [
        ": ping",
        "event: message",
        'data: {"a": 1}',
        "",
        "data: line one",
        "data:line two",
        "",
        "data: [DONE]",
        "",
        'data: {"after": "done"}',
    ]
    assert list(iter_sse_data(iter(lines))) == ['{"a": 1}', "line one\nline two"]
