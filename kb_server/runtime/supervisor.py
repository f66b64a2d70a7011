"""`kb-server up`: the embedded Redis (unless a broker is configured), a Celery worker and the API,
started and stopped together.

Children run in their own process groups with a parent-death signal, so Ctrl-C stops them in
order (API, worker, then Redis, which flushes its AOF) and a killed supervisor leaves no orphans.
A worker that dies is restarted; an API that dies ends the whole stack.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kb_server.runtime.paths import DataPaths
from kb_server.runtime.process import child_preexec
from kb_server.runtime.redis_server import EmbeddedRedis
from kb_server.settings import Settings

log = logging.getLogger("kb_server.up")

WORKER_RESTART_BACKOFF_S = (1, 2, 5, 10, 30)


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, preexec_fn=child_preexec)
        log.info("started %s (pid %s)", self.name, self.process.pid)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace_s: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", self.name, grace_s)
        _signal_group(pgid, signal.SIGKILL)  # whatever is left of the group (pool children)
        self.process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def run_up(settings: Settings, config: Path | None) -> int:
    """Run the whole stack until SIGINT/SIGTERM; returns the exit code."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    env = dict(os.environ)
    env.update(KB_DATA_DIR=str(settings.data_dir), KB_HOST=settings.host, KB_PORT=str(settings.port))
    # Temp files of every child (parsers, caches) stay inside the data dir, not in /tmp.
    paths = DataPaths(settings.data_dir)
    paths.ensure()
    env["TMPDIR"] = str(paths.tmp)
    if config is not None:
        env["KB_CONFIG"] = os.pathsep.join(filter(None, [env.get("KB_CONFIG"), str(config.resolve())]))
    redis: EmbeddedRedis | None = None
    if not (settings.broker_url or settings.redis_url):  # with RabbitMQ nothing needs a Redis
        redis = EmbeddedRedis(settings.data_dir / "redis")
        env["KB_REDIS_URL"] = redis.start()
        log.info("embedded redis at %s", redis.url)
    python = [sys.executable, "-m", "kb_server"]
    worker = Child("worker", [*python, "worker"], env)
    api = Child("api", [*python, "api"], env)
    worker.start()
    api.start()
    _announce(settings)
    code = 0
    next_worker_start: float | None = None
    try:
        while not stopping:
            time.sleep(0.2)
            if api.exited() is not None:
                log.error("the API exited with %s: stopping", api.exited())
                code = 1
                break
            if redis is not None and not redis.alive():
                log.warning("embedded redis died: restarting it (its AOF keeps the queue)")
                redis.start()
            if worker.exited() is not None:
                if next_worker_start is None:
                    delay = WORKER_RESTART_BACKOFF_S[min(worker.restarts, len(WORKER_RESTART_BACKOFF_S) - 1)]
                    log.warning("worker exited with %s: restarting in %s s", worker.exited(), delay)
                    next_worker_start = time.monotonic() + delay
                elif time.monotonic() >= next_worker_start:
                    worker.restarts += 1
                    worker.start()
                    next_worker_start = None
    finally:
        log.info("stopping")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        api.stop(grace_s=10)
        worker.stop(grace_s=settings.worker.shutdown_grace_s)
        if redis is not None:
            redis.stop()
        log.info("stopped")
    return code


def _announce(settings: Settings) -> None:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{settings.port}"
    print(
        f"kb-server is starting\n  web UI:   {base}/\n  API:      {base}/api\n  API docs: {base}/docs\n"
        f"  metrics:  {base}/metrics\n  health:   {base}/readyz\n  data dir: {settings.data_dir}",
        flush=True,
    )
