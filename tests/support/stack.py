"""A real kb-server stack for tests: a broker (embedded Redis, or a queue of its own on the machine's
RabbitMQ), worker processes and the API over HTTP; the catalog in SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from kb_server.runtime.redis_server import EmbeddedRedis
from tests.support.client import KBClient
from tests.support.processes import REPO, Proc, base_env, free_port, wait_http
from tests.support.rabbitmq import AMQP_URL, delete_queue, unique_queue_name


class Stack:
    def __init__(
        self, root: Path, *, broker: Literal["redis", "amqp"] = "redis", database_url: str | None = None, **env: str
    ) -> None:
        """`broker="amqp"`: RabbitMQ at KB_TEST_AMQP_URL, through a queue named for this stack alone
        (deleted by `stop`); `database_url`: the catalog there instead of SQLite in the data dir."""
        self.root = root
        self.data_dir = root / "data"
        self.logs = root / "logs"
        self.redis = EmbeddedRedis(self.data_dir / "redis")
        self.broker = broker
        self.queue_name = unique_queue_name() if broker == "amqp" else "kb-ingest"
        self.database_url = database_url
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

    @property
    def broker_url(self) -> str:
        return AMQP_URL if self.broker == "amqp" else self.redis.url

    def env(self) -> dict[str, str]:
        env = base_env(self.data_dir, KB_PORT=str(self.port))
        if self.broker == "amqp":
            env.update(KB_BROKER_URL=AMQP_URL, KB_INGESTION__QUEUE_NAME=self.queue_name)
        else:
            env["KB_REDIS_URL"] = self.redis.url
        if self.database_url:
            env["KB_DATABASE_URL"] = self.database_url
        return {**env, **self.extra_env}

    def start_redis(self) -> None:
        """Start the broker: the embedded Redis (RabbitMQ runs already)."""
        if self.broker == "redis":
            self.redis.start()

    def start_worker(self, cwd: Path | None = None, **env: str) -> Proc:
        name = f"worker{len(self.workers)}"
        proc = Proc(["worker"], {**self.env(), **env}, self.logs / f"{name}.log", cwd=cwd or REPO).start()
        self.workers.append(proc)
        return proc

    def start_api(self, **env: str) -> Proc:
        self.api = Proc(["api"], {**self.env(), **env}, self.logs / "api.log").start()
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
        if self.broker == "amqp":
            delete_queue(self.queue_name)
        else:
            self.redis.stop()

    def logs_tail(self) -> str:
        procs = ([self.api] if self.api else []) + self.workers
        return "\n\n".join(f"== {p.log_path.name}\n{p.tail(40)}" for p in procs)


@contextmanager
def api_only(root: Path, **env: str) -> Iterator[Stack]:
    """An API process and its Redis, no worker: for tests of what the API does before ingestion."""
    stack = Stack(root, broker="redis", **env)
    try:
        stack.start_redis()
        stack.start_api()
        yield stack
    finally:
        stack.stop()
