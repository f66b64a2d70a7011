"""Real kb-server processes for tests: embedded Redis, workers, the API, the whole `up`.

Every process started here is stopped by its fixture, whatever the test did.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The int8 ONNX export of the bundled embedder takes ~20 s to build: every test stack links its
# data dir's `cache/onnx` here, so it is built once per machine (the build is keyed by the model,
# the recipe and the library versions, and locked). The vector cache stays per data dir.
SHARED_ONNX = Path(tempfile.gettempdir()) / f"kb-server-tests-{os.getuid()}" / "onnx"


# Likewise the joined Qwen GGUFs (491 MB and 1.1 GB, joined under a lock and verified): one copy per
# machine for every stack that asks for a Qwen preset, not one per tmp data dir.
SHARED_MODELS = SHARED_ONNX.parent / "models"


def share_int8_build(data_dir: Path, onnx_dir: Path = SHARED_ONNX) -> None:
    """Link the data dir's int8 build folder to `onnx_dir` (first link wins; the vector cache stays its own)."""
    _share(data_dir / "cache" / "onnx", onnx_dir)


def share_model_files(data_dir: Path, models_dir: Path = SHARED_MODELS) -> None:
    """Link the data dir's joined chat model folder to `models_dir`."""
    _share(data_dir / "cache" / "models", models_dir)


def _share(link: Path, target: Path) -> None:
    if link.exists() or link.is_symlink():
        return
    target.mkdir(parents=True, exist_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target.resolve(), target_is_directory=True)


def base_env(data_dir: Path, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a test stack: MiniLM embeds and the fast SmolLM2 answers unless a test asks for
    other presets."""
    share_int8_build(data_dir)
    share_model_files(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_DATA_DIR=str(data_dir),
        KB_LOG_LEVEL="INFO",
        KB_INGESTION__RECOVERY_INTERVAL_S="2",
        KB_INGESTION__LEASE_S="8",
        KB_WORKER__NICE="0",
        KB_EMBEDDING__PRESET="minilm",  # the fastest embedder, whatever the shipped default
        KB_LLM__PRESET="smollm2",
        KB_LLM__MAX_TOKENS="48",
        KB_LLM__QUEUE_TIMEOUT_S="2",
        # Test sites are served on 127.0.0.1; the guard's refusals are tested with it off.
        KB_URLS__ALLOW_PRIVATE="true",
        KB_URLS__MIN_REFRESH_S="1",  # refresh tests re-fetch within seconds
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["KB_REDIS_URL"] = redis_url
    env.update(extra)
    return env


class Proc:
    """A `python -m kb_server …` child in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path = REPO) -> None:
        self.args, self.env, self.log_path, self.cwd = args, env, log_path, cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kb_server", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the process and everything in its group (prefork children)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_s)
        self.kill_group()
        return self.process.returncode

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def wait_http(url: str, timeout_s: float = 90.0, proc: Proc | None = None, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"process exited while waiting for {url}:\n{proc.tail()}")
        try:
            r = httpx.get(url, timeout=5)
            if r.status_code in ok:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout_s} s: {last}\n{proc.tail() if proc else ''}")


def descendants(pid: int) -> set[int]:
    """Every live descendant of a process, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
