"""Where everything lives inside the data dir. Nothing here is ever derived from a client name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# AF_UNIX paths are limited to 108 bytes on Linux.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "kb.sqlite3"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def kbs(self) -> Path:
        return self.root / "kbs"

    @property
    def cache(self) -> Path:
        """Derived, rebuildable files: the int8 ONNX export of the embedder and the vector cache."""
        return self.root / "cache"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis / "redis.sock"

    @property
    def redis_url_file(self) -> Path:
        """Where a running embedded Redis writes its URL, for `kb-server api|worker` to find it."""
        return self.redis / "url"

    def ensure(self) -> None:
        for folder in (self.root, self.uploads, self.tmp, self.kbs, self.cache, self.redis):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def database_url(self) -> str:
        return f"sqlite:///{self.database}"
