"""A real kb-server stack for tests: embedded Redis, worker processes and the API over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb_server.runtime.redis_server import EmbeddedRedis
from tests.support.client import KBClient
from tests.support.processes import REPO, Proc, base_env, free_port, wait_http


class Stack:
    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.logs = root / "logs"
        self.redis = EmbeddedRedis(self.data_dir / "redis")
        self.extra_env = env
        self.port = free_port()
        self.workers: list[Proc] = []
        self.api: Proc | None = None
        self._client: KBClient | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> KBClient:
        if self._client is None:
            self._client = KBClient(self.base_url)
        return self._client

    def env(self) -> dict[str, str]:
        return base_env(self.data_dir, self.redis.url, KB_PORT=str(self.port), **self.extra_env)

    def start_redis(self) -> None:
        self.redis.start()

    def start_worker(self, cwd: Path | None = None, **env: str) -> Proc:
        name = f"worker{len(self.workers)}"
        proc = Proc(["worker"], {**self.env(), **env}, self.logs / f"{name}.log", cwd=cwd or REPO).start()
        self.workers.append(proc)
        return proc

    def start_api(self) -> Proc:
        self.api = Proc(["api"], self.env(), self.logs / "api.log").start()
        wait_http(f"{self.base_url}/healthz", proc=self.api)
        return self.api

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_http(f"{self.base_url}/readyz", timeout_s=timeout_s, proc=self.api)

    def start(self) -> Stack:
        self.start_redis()
        self.start_worker()
        self.start_api()
        self.wait_ready()
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.api is not None:
            self.api.stop()
        for worker in self.workers:
            worker.stop()
        self.redis.stop()

    def logs_tail(self) -> str:
        procs = ([self.api] if self.api else []) + self.workers
        return "\n\n".join(f"== {p.log_path.name}\n{p.tail(40)}" for p in procs)


@contextmanager
def api_only(root: Path, **env: str) -> Iterator[Stack]:
    """An API process and its Redis, no worker: for tests of what the API does before ingestion."""
    stack = Stack(root, **env)
    try:
        stack.start_redis()
        stack.start_api()
        yield stack
    finally:
        stack.stop()
