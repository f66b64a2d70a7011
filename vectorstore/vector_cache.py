"""Never embed the same chunk text twice: vectors cached by sha256(text), per model and backend.

One SQLite file per model key under `<cache>/vectors/`, shared by every process of a data dir
(WAL; a writer waits for another). It is a cache, never the record: losing it costs only time.
Commits are not fsynced one by one (WAL with synchronous=NORMAL stays consistent after a power
loss, losing at most the last commits), a faulty cache file is bypassed with a warning, and when
it holds more than `max_entries` vectors the oldest go. A re-ingested file, a page uploaded twice
under another name, boilerplate repeated on every page of a site, or the same text in another
knowledge base is embedded once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vectorstore.embedder_protocol import Embedder

log = logging.getLogger(__name__)

_PRUNE_EVERY = 1000  # inserts between two checks of the size limit
_LOOKUP_CHUNK = 500  # SQLite's bound-parameter limit is higher; this keeps statements small


class VectorCache:
    def __init__(self, path: Path, dim: int, max_entries: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.dim = dim
        self._max_entries = max_entries
        self._inserted = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors "
            "(seq INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, vector BLOB NOT NULL)"
        )

    def get_many(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock, _bypass_faults(self.path):
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                part = keys[start : start + _LOOKUP_CHUNK]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dim,):
                        found[bytes(key)] = vector
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        if not items:
            return
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        with self._lock, _bypass_faults(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
                self._inserted += len(rows)
                if self._inserted >= _PRUNE_EVERY:
                    self._inserted = 0
                    self._db.execute(
                        "DELETE FROM vectors WHERE seq <= (SELECT MAX(seq) FROM vectors) - ?", (self._max_entries,)
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


@contextlib.contextmanager
def _bypass_faults(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:  # a cache must never fail an ingestion
        log.warning("vector cache %s bypassed: %s", path, exc)


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """Wraps an embedder: documents already embedded are read back, the rest embedded once."""

    def __init__(self, inner: Embedder, cache: VectorCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dim = inner.dim
        self.identity = inner.identity
        self.backend = getattr(inner, "backend", "torch")
        self.hits = 0
        self.misses = 0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        keys = [text_key(t) for t in texts]
        known = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = list(dict.fromkeys(k for k in keys if k not in known))  # repeats within the batch, once
        if todo:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = self.inner.embed_documents([text_of[k] for k in todo])
            new = dict(zip(todo, fresh, strict=True))
            self.cache.put_many(new)
            known.update(new)
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        for row, key in enumerate(keys):
            out[row] = known[key]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
