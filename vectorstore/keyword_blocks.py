"""BM25 over a knowledge base, kept up to date file by file: no rebuild of the whole KB per change.

Same scores as `keyword_index.KeywordIndex` (BM25 with k1=1.2, b=0.75, scaled by the query's best
possible score), but where that one rebuilds its matrix from every file on each KB change —
seconds at 100k chunks — this one keeps raw term counts in blocks (one per added file at first)
and computes the BM25 weights of the query's terms at query time, with the KB's current document
frequencies and average length. Adding a file costs that file; removing one marks its rows dead
and subtracts its document frequencies. Blocks of similar size are merged (as a binary counter:
each row is rewritten O(log n) times over its life, dead rows dropped on the way), so a query
visits O(log n) blocks.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from vectorstore.ids import file_of
from vectorstore.keyword_index import K1, B, TokenLoader

# The query's tokens (each occurrence weighs 1), or each term's weight (a follow-up's own words
# above those carried from earlier turns, kb_server.services.search).
Query = Sequence[str] | Mapping[str, float]


def query_term_weights(query: Query) -> Mapping[str, float]:
    return query if isinstance(query, Mapping) else Counter(query)


@dataclass(eq=False)
class _Block:
    ids: np.ndarray  # int64 chunk id per row
    lengths: np.ndarray  # float64 tokens per row
    tf: sparse.csc_matrix  # rows × vocabulary-at-build-time, raw counts
    files: list[int]  # files whose rows are here, in row order
    alive: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.alive = np.ones(len(self.ids), dtype=bool)

    @property
    def live(self) -> int:
        return int(self.alive.sum())


@dataclass(eq=False)
class _File:
    generation: int
    block: _Block
    start: int
    ids: np.ndarray
    terms: np.ndarray  # int32 column of each (chunk, distinct term): what it adds to the doc frequencies
    order: np.ndarray = field(init=False)  # ids[order] is sorted

    def __post_init__(self) -> None:
        self.order = np.argsort(self.ids, kind="stable")

    def row_of(self, chunk: int) -> int | None:
        pos = int(np.searchsorted(self.ids[self.order], chunk))
        if pos < len(self.ids) and self.ids[self.order[pos]] == chunk:
            return self.start + int(self.order[pos])
        return None


class BlockKeywordIndex:
    """A drop-in for `KeywordIndex` whose updates cost the changed files, not the KB."""

    def __init__(self) -> None:
        self._files: dict[int, _File] = {}
        self._blocks: list[_Block] = []
        self._vocab: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._docs = 0
        self._total_length = 0.0
        self._version: int | None = None
        self._lock = threading.RLock()

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def size(self) -> int:
        return self._docs

    def sync(self, version: int, generations: Mapping[int, int], load: TokenLoader) -> None:
        with self._lock:
            if self._version == version:
                return
            for file_id in [f for f, held in self._files.items() if generations.get(f) != held.generation]:
                self._remove(file_id)
            for file_id, gen in generations.items():
                if file_id not in self._files:
                    ids, tokens = load(file_id)
                    self._add(file_id, gen, ids, tokens)
            self._version = version

    def _add(self, file_id: int, generation: int, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        rows, cols, counts = [], [], []
        for row, chunk_tokens in enumerate(tokens):
            for term, n in Counter(chunk_tokens).items():
                rows.append(row)
                cols.append(self._vocab.setdefault(term, len(self._vocab)))
                counts.append(n)
        if len(self._vocab) > len(self._df):
            self._df = np.concatenate([self._df, np.zeros(max(len(self._vocab), len(self._df)), dtype=np.int64)])
        col_array = np.asarray(cols, dtype=np.int64)
        np.add.at(self._df, col_array, 1)
        lengths = np.asarray([len(t) for t in tokens], dtype=np.float64)
        tf = sparse.csc_matrix(
            (np.asarray(counts, dtype=np.float32), (np.asarray(rows, dtype=np.int64), col_array)),
            shape=(len(tokens), len(self._vocab)),
        )
        block = _Block(np.asarray(ids, dtype=np.int64), lengths, tf, [file_id])
        self._blocks.append(block)
        self._files[file_id] = _File(generation, block, 0, block.ids, col_array.astype(np.int32))
        self._docs += len(tokens)
        self._total_length += float(lengths.sum())
        self._merge_tail()

    def _remove(self, file_id: int) -> None:
        held = self._files.pop(file_id)
        block, rows = held.block, slice(held.start, held.start + len(held.ids))
        np.subtract.at(self._df, held.terms, 1)
        block.alive[rows] = False
        self._docs -= len(held.ids)
        self._total_length -= float(block.lengths[rows].sum())
        if block.live * 2 < len(block.ids):
            self._rewrite([block])

    def _merge_tail(self) -> None:
        while len(self._blocks) >= 2 and self._blocks[-2].live <= 2 * self._blocks[-1].live:
            self._rewrite(self._blocks[-2:])

    def _rewrite(self, blocks: list[_Block]) -> None:
        """Replace `blocks` (adjacent, in order) by one block of their live rows."""
        width = len(self._vocab)
        parts = [b.tf.tocsr()[b.alive] for b in blocks]
        tf = sparse.vstack([sparse.csr_matrix(p, shape=(p.shape[0], width)) for p in parts]).tocsc()
        merged = _Block(
            np.concatenate([b.ids[b.alive] for b in blocks]),
            np.concatenate([b.lengths[b.alive] for b in blocks]),
            tf,
            [f for b in blocks for f in b.files if f in self._files and self._files[f].block is b],
        )
        offset = 0
        for file_id in merged.files:
            held = self._files[file_id]
            held.block, held.start = merged, offset
            offset += len(held.ids)
        where = self._blocks.index(blocks[0])
        self._blocks[where : where + len(blocks)] = [merged] if len(merged.ids) else []

    def _query(self, query: Query) -> tuple[np.ndarray, np.ndarray, float]:
        counts = query_term_weights(query)
        terms = {t: n for t, n in counts.items() if t in self._vocab}
        cols = np.asarray([self._vocab[t] for t in terms], dtype=np.int64)
        df = self._df[cols].astype(np.float64)
        idf = np.log(1.0 + (self._docs - df + 0.5) / (df + 0.5))
        weights = idf * np.asarray(list(terms.values()), dtype=np.float64)
        best = float(weights.sum() * (K1 + 1))
        missing = sum(n for t, n in counts.items() if t not in self._vocab)
        if self._docs:
            best += missing * (K1 + 1) * math.log(1.0 + (self._docs + 0.5) / 0.5)
        return cols, weights, best

    def _block_scores(
        self, block: _Block, cols: np.ndarray, weights: np.ndarray, rows: np.ndarray | None
    ) -> np.ndarray:
        keep = cols < block.tf.shape[1]
        sub = block.tf[:, cols[keep]]
        if rows is not None:
            sub = sub.tocsr()[rows]
        coo = sub.tocoo()
        lengths = block.lengths if rows is None else block.lengths[rows]
        norm = K1 * (1 - B + B * lengths / max(self._total_length / max(self._docs, 1), 1e-9))
        values = coo.data * (K1 + 1) / (coo.data + norm[coo.row]) * weights[keep][coo.col]
        return np.bincount(coo.row, weights=values, minlength=sub.shape[0])

    def search(self, query: Query, k: int) -> list[tuple[int, float]]:
        """The `k` best chunk ids with BM25 scores scaled into 0..1, best first."""
        with self._lock:
            if not self._docs or k <= 0:
                return []
            cols, weights, best = self._query(query)
            if not len(cols) or best <= 0:
                return []
            found: list[tuple[float, int]] = []
            for block in self._blocks:
                scores = self._block_scores(block, cols, weights, None) * block.alive
                top = np.flatnonzero(scores > 0)
                if len(top) > k:
                    top = top[np.argpartition(-scores[top], k - 1)[:k]]
                found += [(float(scores[i]) / best, int(block.ids[i])) for i in top]
        found.sort(key=lambda item: -item[0])
        return [(cid, score) for score, cid in found[:k]]

    def scores_for(self, query: Query, chunk_ids: Sequence[int]) -> dict[int, float]:
        """Scaled BM25 of specific chunks (0 for chunks without a query term)."""
        with self._lock:
            located: dict[int, list[tuple[int, int]]] = {}
            for cid in chunk_ids:
                held = self._files.get(file_of(cid))
                row = None if held is None else held.row_of(cid)
                if held is not None and row is not None:
                    located.setdefault(id(held.block), []).append((cid, row))
            if not located:
                return {}
            cols, weights, best = self._query(query)
            out = {cid: 0.0 for rows in located.values() for cid, _ in rows}
            if not len(cols) or best <= 0:
                return out
            for block in self._blocks:
                rows = located.get(id(block))
                if rows:
                    scores = self._block_scores(block, cols, weights, np.asarray([r for _, r in rows]))
                    out.update({cid: float(s) / best for (cid, _), s in zip(rows, scores, strict=True)})
            return out
