"""A real kb-server for the benchmarks, started the way a user starts it: `python -m kb_server up`.

The benchmarks depend on the product only, never on the test tree. Each server gets its own data
dir (so its own, empty vector cache: a warm one would skip the embedding being measured) but links
`<data dir>/cache/onnx` to one folder per machine, so the ~20 s int8 ONNX export is built once.
`embedding.cache_dir` cannot do that: it moves the vector cache along with the export. The
chat models joined from split wheels (`<data dir>/cache/models`) are shared the same way.
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
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from kb_server.runtime.paths import DataPaths

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BENCHMARK_SHARED_DATA") or REPO.parent / "shared" / "data")
SHARED_ONNX = Path(tempfile.gettempdir()) / f"kb-server-benchmarks-{os.getuid()}" / "onnx"
SHARED_MODELS = SHARED_ONNX.parent / "models"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`kb-server up` on its own data dir and port; settings are the shipped ones plus `env` (KB_…).

    `command="api"` with the `data_dir` of a running `up` starts one more API process beside it
    (it finds that `up`'s Redis through the data dir), e.g. a fresh one with nothing loaded yet.
    """

    def __init__(
        self,
        root: Path,
        onnx_dir: Path = SHARED_ONNX,
        command: str = "up",
        data_dir: Path | None = None,
        **env: str,
    ) -> None:
        self.command = command
        self.data_dir = data_dir or root / "data"
        self.log_path = root / f"{command}.log"
        self.onnx_dir = onnx_dir
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
        self.env.update(PYTHONUNBUFFERED="1", **env)
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base_url, timeout=60)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 240) -> Server:
        """Start `up` and wait until /readyz answers 200 (the model loaded, Redis and the worker up)."""
        cache = DataPaths(self.data_dir).cache
        for link, shared in ((cache / "onnx", self.onnx_dir), (cache / "models", SHARED_MODELS)):
            if not (link.exists() or link.is_symlink()):
                shared.mkdir(parents=True, exist_ok=True)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(shared.resolve(), target_is_directory=True)
        command = [self.command, "--data-dir", str(self.data_dir), "--port", str(self.port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kb_server", *command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO,
            )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kb-server {self.command} exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/readyz", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"{self.base_url}/readyz not ready after {timeout_s:.0f} s:\n{self.tail()}")

    def stop(self, grace_s: float = 60) -> None:
        """SIGTERM, which stops the API, the worker and Redis in order; SIGKILL if that takes too long
        (the children then get SIGTERM through their parent-death signal)."""
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def create_kb(http: httpx.Client, name: str) -> dict[str, Any]:
    r = http.post("/api/kbs", json={"name": name})
    assert r.status_code == 201, r.text
    return dict(r.json())


def upload_paths(http: httpx.Client, kb: str, paths: list[Path]) -> list[dict[str, Any]]:
    """Every path in one multipart request; one entry per file (status queued, duplicate…)."""
    r = http.post(f"/api/kbs/{kb}/files", files=[("files", (p.name, p.read_bytes())) for p in paths])
    assert r.status_code == 202, r.text
    return list(r.json()["files"])


def list_files(http: httpx.Client, kb: str) -> list[dict[str, Any]]:
    r = http.get(f"/api/kbs/{kb}/files")
    assert r.status_code == 200, r.text
    return list(r.json()["files"])


def wait_settled(
    http: httpx.Client, kb: str, expected: int | None = None, timeout_s: float = 300
) -> list[dict[str, Any]]:
    """Poll every 0.5 s until every file is done or failed (and, if given, there are `expected` files)."""
    deadline = time.monotonic() + timeout_s
    files: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            files = list_files(http, kb)
            if all(f["status"] in ("done", "failed") for f in files) and expected in (None, len(files)):
                return files
        time.sleep(0.5)
    states = ", ".join(f"{f['name']}={f['status']}" for f in files)
    raise TimeoutError(f"files of {kb} not settled after {timeout_s:.0f} s: {states}")


def variants(presets: str, settings: list[str], always: Sequence[str] = ()) -> list[tuple[str, dict[str, str]]]:
    """(label, KB_ env) per run: each preset, then each preset with each of ``settings`` applied.

    A setting is ``section.key=value`` (e.g. ``chat.passage_tokens=300``), so a setting's effect is
    measured against the shipped value in the same run on the same data; ``always`` apply to every run.
    """
    base = dict(_setting_env(s) for s in always)
    suffix = "".join(f" {s.split('=', 1)[0].split('.')[-1]}={s.split('=', 1)[1]}" for s in always)
    runs: list[tuple[str, dict[str, str]]] = []
    for preset in (p.strip() for p in presets.split(",") if p.strip()):
        runs.append((preset + suffix, {**base, "KB_LLM__PRESET": preset}))
        for setting in settings:
            key, value = _setting_env(setting)
            label = f"{preset}{suffix} {setting.split('=', 1)[0].split('.')[-1]}={value}"
            runs.append((label, {**base, "KB_LLM__PRESET": preset, key: value}))
    return runs


def _setting_env(setting: str) -> tuple[str, str]:
    """``chat.passage_tokens=300`` as ``("KB_CHAT__PASSAGE_TOKENS", "300")``."""
    key, sep, value = setting.partition("=")
    if not sep or "." not in key:
        raise SystemExit(f"a setting is section.key=value, got {setting!r}")
    return "KB_" + "__".join(part.upper() for part in key.split(".")), value
