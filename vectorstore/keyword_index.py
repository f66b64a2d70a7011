"""Keyword (BM25) search per knowledge base, maintained file by file like the vector segments.

The worker tokenizes each file once and writes `<kb>/keywords/<file_id>.<run>.json` (ids and
tokens; JSON, not pickle; stored atomically). The in-memory index is rebuilt from those segments when the
KB's version changes. BM25 scores are divided by the query's highest possible score, so they lie
in 0..1 and mean the same thing from query to query: that is what lets them be fused with cosine
similarities and held against one threshold.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from vectorstore.byte_store import ByteStore, LocalByteStore, local_path
from vectorstore.errors import SegmentCorrupt
from vectorstore.run_files import RunFiles
from vectorstore.tokenize import TokenizerName, segment_tag

K1 = 1.2
B = 0.75


class KeywordSegmentStore:
    """Keyword blocks, named `<kb_id>/keywords/<file_id>.<run>.json` beside the segments."""

    def __init__(self, store: Path | ByteStore) -> None:
        self.store = LocalByteStore(store) if isinstance(store, Path) else store

    def runs(self, kb_id: int) -> RunFiles:
        return RunFiles(self.store, f"{int(kb_id)}/keywords", ".json")

    def path(self, kb_id: int, file_id: int, generation: int) -> Path:
        """Where the local store keeps that generation (the pre-run-number name if only that exists)."""
        return local_path(self.store, self.runs(kb_id).existing(file_id, generation))

    def write(
        self,
        kb_id: int,
        file_id: int,
        run: int,
        tokenizer: TokenizerName,
        ids: Sequence[int],
        tokens: Sequence[Sequence[str]],
    ) -> None:
        payload = json.dumps(
            {"tokenizer": segment_tag(tokenizer), "ids": [int(i) for i in ids], "tokens": [list(t) for t in tokens]},
            ensure_ascii=False,
        )
        self.runs(kb_id).write(file_id, run, payload.encode("utf-8"))

    def read_raw(self, kb_id: int, file_id: int, generation: int) -> dict | None:
        """The block of that generation as stored, None if there is none.

        Raises:
            SegmentCorrupt: the block exists but cannot be read.
        """
        try:
            raw = self.runs(kb_id).read(file_id, generation)
            if raw is None:
                return None
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise SegmentCorrupt(f"keyword segment {kb_id}/{file_id}.{generation} cannot be read: {exc}") from exc
        if not isinstance(data, dict):
            raise SegmentCorrupt(f"keyword segment {kb_id}/{file_id}.{generation} is not an object")
        return data

    def read(
        self, kb_id: int, file_id: int, generation: int, tokenizer: TokenizerName
    ) -> tuple[list[int], list[list[str]]] | None:
        """The ids and tokens of that generation, or None if it has no block made with `tokenizer`.

        Raises:
            SegmentCorrupt: the block exists but cannot be read.
        """
        data = self.read_raw(kb_id, file_id, generation)
        if data is None or data.get("tokenizer") != segment_tag(tokenizer):
            return None
        return [int(i) for i in data["ids"]], [list(t) for t in data["tokens"]]

    def delete(self, kb_id: int, file_id: int) -> None:
        self.runs(kb_id).remove(file_id)

    def delete_run(self, kb_id: int, file_id: int, run: int) -> None:
        self.runs(kb_id).remove_run(file_id, run)

    def prune(self, kb_id: int, file_id: int, keep: int) -> None:
        self.runs(kb_id).remove(file_id, keep=keep)


# Given a file id, its chunk ids and token lists (from the segment, or re-tokenized from text).
TokenLoader = Callable[[int], tuple[list[int], list[list[str]]]]


class KeywordIndex:
    """BM25 over one knowledge base's chunks, rebuilt from per-file token lists on change."""

    def __init__(self) -> None:
        self._files: dict[int, tuple[int, list[int], list[list[str]]]] = {}  # file -> (gen, ids, tokens)
        self._version: int | None = None
        self._lock = threading.RLock()
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self._vocab: dict[str, int] = {}
        self._matrix = sparse.csc_matrix((0, 0), dtype=np.float32)
        self._idf = np.zeros(0, dtype=np.float32)

    @property
    def version(self) -> int | None:
        return self._version

    def sync(self, version: int, generations: Mapping[int, int], load: TokenLoader) -> None:
        with self._lock:
            if self._version == version:
                return
            changed = False
            for file_id in [f for f in self._files if f not in generations]:
                del self._files[file_id]
                changed = True
            for file_id, gen in generations.items():
                held = self._files.get(file_id)
                if held is not None and held[0] == gen:
                    continue
                ids, tokens = load(file_id)
                self._files[file_id] = (gen, ids, tokens)
                changed = True
            if changed or self._version is None:
                self._rebuild()
            self._version = version

    def _rebuild(self) -> None:
        ids: list[int] = []
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths: list[int] = []
        for _, file_ids, file_tokens in self._files.values():
            for chunk_id, tokens in zip(file_ids, file_tokens, strict=True):
                row = len(ids)
                ids.append(chunk_id)
                lengths.append(len(tokens))
                for term, n in Counter(tokens).items():
                    rows.append(row)
                    cols.append(vocab.setdefault(term, len(vocab)))
                    counts.append(n)
        n_docs = len(ids)
        tf = sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=(n_docs, len(vocab)), dtype=np.float32
        )
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocab)).astype(np.float32)
        self._idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        length = np.asarray(lengths, dtype=np.float32)
        avg = float(length.mean()) if n_docs else 1.0
        norm = K1 * (1 - B + B * length / max(avg, 1e-9))
        tf = tf.tocoo()
        weights = tf.data * (K1 + 1) / (tf.data + norm[tf.row])
        self._matrix = sparse.csc_matrix((weights, (tf.row, tf.col)), shape=tf.shape, dtype=np.float32)
        self._ids = np.asarray(ids, dtype=np.int64)
        self._row_of = {cid: i for i, cid in enumerate(ids)}
        self._vocab = vocab

    def _query_weights(self, query_tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, float]:
        terms = Counter(t for t in query_tokens if t in self._vocab)
        cols = np.asarray([self._vocab[t] for t in terms], dtype=np.int64)
        qtf = np.asarray(list(terms.values()), dtype=np.float32)
        weights = self._idf[cols] * qtf if len(cols) else np.zeros(0, dtype=np.float32)
        # The best any chunk could score: every query term present with saturated frequency.
        best = sum(
            self._idf[self._vocab[t]] * n * (K1 + 1) for t, n in Counter(query_tokens).items() if t in self._vocab
        )
        missing = sum(n for t, n in Counter(query_tokens).items() if t not in self._vocab)
        best += missing * (K1 + 1) * math.log(1.0 + (len(self._ids) + 0.5) / 0.5) if len(self._ids) else 0.0
        return cols, weights, float(best)

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The `k` best chunk ids with BM25 scores scaled into 0..1, best first."""
        with self._lock:
            if not len(self._ids) or k <= 0:
                return []
            cols, weights, best = self._query_weights(query_tokens)
            if not len(cols) or best <= 0:
                return []
            scores = np.asarray(self._matrix[:, cols] @ weights).ravel() / best
            top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(int(self._ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def scores_for(self, query_tokens: Sequence[str], chunk_ids: Sequence[int]) -> dict[int, float]:
        """Scaled BM25 of specific chunks (0 for chunks without a query term)."""
        with self._lock:
            rows = [self._row_of[c] for c in chunk_ids if c in self._row_of]
            if not rows:
                return {}
            cols, weights, best = self._query_weights(query_tokens)
            if not len(cols) or best <= 0:
                return {int(self._ids[r]): 0.0 for r in rows}
            sub = self._matrix[:, cols].tocsr()[rows]
            scores = np.asarray(sub @ weights).ravel() / best
            return {int(self._ids[r]): float(s) for r, s in zip(rows, scores, strict=True)}

    @property
    def size(self) -> int:
        return len(self._ids)
