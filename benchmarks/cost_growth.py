"""What one more file costs as a knowledge base grows: 1k, 10k and 100k chunks.

Each KB is filled with synthetic files of 100 chunks through the store's own API (catalog rows,
vector segments, keyword segments), and its readers are loaded. Then, round after round, the same
real Python FAQ page is added to every KB (side by side, so load on the machine hits all sizes
alike), and three costs are timed:

  worker   `ingestion.pipeline.ingest`: parse, chunk, embed (int8), write segments, commit
  vectors  the API's `KBIndex.sync` picking up the new file
  keywords the reference BM25 `KeywordIndex.sync` picking it up (rebuilds from every file)
  blocks   the same for `BlockKeywordIndex` (vectorstore/keyword_blocks.py; same scores, updated
           file by file), which is what search_service uses

    .venv/bin/python -m benchmarks.cost_growth [--quick] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select, update

from benchmarks.harness import SHARED_DATA
from benchmarks.synthetic import base_vectors, load_average, write_kb
from catalog import Chunk, Database, File, KnowledgeBase, repository
from catalog.owners import new_owner
from ingestion.context import IngestionContext
from ingestion.pipeline import ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from vectorstore import EmbeddingSettings, KBIndex, SegmentStore, build_embedder
from vectorstore.keyword_blocks import BlockKeywordIndex
from vectorstore.keyword_index import KeywordIndex, KeywordSegmentStore
from vectorstore.tokenize import index_tokens

PER_FILE = 100
PAGES = ["windows.html", "extending.html", "general.html", "installed.html", "gui.html", "library.html"]
WORDS = [
    "index",
    "query",
    "vector",
    "segment",
    "chunk",
    "python",
    "module",
    "thread",
    "socket",
    "string",
    "encode",
    "parse",
    "token",
    "file",
]


class Reader:
    """What the API keeps per KB: the vector index and the BM25 index, refreshed on a new version."""

    def __init__(self, db: Database, kb_id: int, segments: SegmentStore, keywords: KeywordSegmentStore) -> None:
        self.db, self.kb_id, self.keyword_store = db, kb_id, keywords
        self.vectors = KBIndex(kb_id, 384, segments)
        self.keywords = KeywordIndex()
        self.blocks = BlockKeywordIndex()

    def refresh_vectors(self) -> None:
        self.vectors.sync(*repository.done_generations(self.db, self.kb_id))

    def refresh_keywords(self) -> None:
        version, generations = repository.done_generations(self.db, self.kb_id)

        def load(file_id: int) -> tuple[list[int], list[list[str]]]:
            stored = self.keyword_store.read(self.kb_id, file_id, generations[file_id], "auto")
            assert stored is not None
            return stored

        self.keywords.sync(version, generations, load)

    def refresh_blocks(self) -> None:
        version, generations = repository.done_generations(self.db, self.kb_id)

        def load(file_id: int) -> tuple[list[int], list[list[str]]]:
            stored = self.keyword_store.read(self.kb_id, file_id, generations[file_id], "auto")
            assert stored is not None
            return stored

        self.blocks.sync(version, generations, load)


def fill(ctx: IngestionContext, name: str, chunks: int, bases: object) -> Reader:
    kb = repository.create_kb(ctx.db, name, "", "bundled:minilm", 384)
    generations = write_kb(ctx.segments, kb.id, bases, chunks, PER_FILE, first_file=_next_file_id(ctx.db))  # type: ignore[arg-type]
    file_rows, chunk_rows = [], []
    for file_id in generations:
        file_rows.append(
            {"id": file_id, "kb_id": kb.id, "sha256": uuid.uuid4().hex * 2, "name": f"synthetic-{file_id}.txt",
             "size": 1, "status": "done", "generation": 1, "run": 1, "chunks": PER_FILE}
        )  # fmt: skip
        ids, tokens = [], []
        for i in range(PER_FILE):
            text = " ".join(WORDS[(file_id * 7 + i * 3 + k) % len(WORDS)] for k in range(60)) + f" f{file_id} c{i}"
            cid = (file_id << 20) | i
            chunk_rows.append({"id": cid, "file_id": file_id, "kb_id": kb.id, "ordinal": i, "text": text, "meta": {}})
            ids.append(cid)
            tokens.append(index_tokens(text, "auto"))
        ctx.keywords.write(kb.id, file_id, 1, "auto", ids, tokens)
    with ctx.db.write() as s:
        s.execute(insert(File), file_rows)
        s.execute(insert(Chunk), chunk_rows)
        s.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb.id).values(version=1))
    reader = Reader(ctx.db, kb.id, ctx.segments, ctx.keywords)
    reader.refresh_vectors()
    reader.refresh_keywords()
    reader.refresh_blocks()
    return reader


def _next_file_id(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.max(File.id))) or 0) + 1


def add_file(ctx: IngestionContext, reader: Reader, page: Path) -> tuple[float, float, float, float, int]:
    staged = ctx.uploads.stage(io.BytesIO(page.read_bytes()))
    ctx.uploads.commit(staged)
    file_id = repository.register_file(
        ctx.db, reader.kb_id, staged.sha256, page.name, staged.size, "", uuid.uuid4().hex
    ).file.id
    started = time.perf_counter()
    outcome = ingest(ctx, file_id, new_owner())
    worker = time.perf_counter() - started
    assert outcome.status == "done", outcome
    started = time.perf_counter()
    reader.refresh_vectors()
    vectors = time.perf_counter() - started
    started = time.perf_counter()
    reader.refresh_keywords()
    keywords = time.perf_counter() - started
    started = time.perf_counter()
    reader.refresh_blocks()
    blocks = time.perf_counter() - started
    return worker, vectors, keywords, blocks, outcome.chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k and 10k chunks, 3 rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse a built int8 model")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    rounds = 3 if args.quick else args.rounds

    with tempfile.TemporaryDirectory(prefix="kb-growth-") as tmp:
        root = Path(tmp)
        embedder = build_embedder(EmbeddingSettings(vector_cache=False), cache_dir=args.cache_dir or root / "cache")
        db = Database(f"sqlite:///{root / 'kb.sqlite3'}")
        db.create_all()
        ctx = IngestionContext(
            db=db,
            uploads=UploadStore(root / "uploads", root / "tmp"),
            segments=SegmentStore(root / "kbs"),
            settings=IngestionSettings(),
            embedder_factory=lambda: embedder,
            keywords=KeywordSegmentStore(root / "kbs"),
        )
        bases = base_vectors(embedder)
        readers = {}
        for size in sizes:
            started = time.perf_counter()
            readers[size] = fill(ctx, f"kb{size}", size, bases)
            print(f"KB of {size} chunks filled in {time.perf_counter() - started:.1f} s", flush=True)
        warm_up = fill(ctx, "warm-up", PER_FILE, bases)  # the first parse loads unstructured's models
        add_file(ctx, warm_up, SHARED_DATA / "python-faq" / "html" / "index.html")
        print(f"embedder {getattr(embedder, 'backend', '?')}; load average {load_average()}")
        times: dict[int, list[tuple[float, ...]]] = {s: [] for s in sizes}
        for r in range(rounds):
            page = SHARED_DATA / "python-faq" / "html" / PAGES[r % len(PAGES)]
            for size in sizes:
                *cost, chunks = add_file(ctx, readers[size], page)
                times[size].append(tuple(cost))
            print(f"round {r + 1}: {page.name} ({chunks} chunks) added to every KB", flush=True)

        print("\nseconds per added file, median (min-max) over rounds:")
        heads = ("worker", "vector refresh", "full BM25 rebuild", "block keywords")
        print(f"{'KB chunks':>10} " + " ".join(f"{h:>22}" for h in heads) + f" {'total':>8} {'rebuild':>8}")
        totals, proposed = {}, {}
        for size in sizes:
            cols = list(zip(*times[size], strict=True))
            totals[size] = statistics.median(w + v + b for w, v, _, b in times[size])
            proposed[size] = statistics.median(w + v + k for w, v, k, _ in times[size])
            shown = " ".join(f"{statistics.median(c):8.3f} ({min(c):.3f}-{max(c):.3f})" for c in cols)
            print(f"{size:10d} {shown} {totals[size]:8.3f} {proposed[size]:8.3f}")
        print("total: worker + vectors + block keywords, as kb-server runs; rebuild: with a full BM25 rebuild instead")
        small, large = sizes[0], sizes[-1]
        for k, label in enumerate(heads):
            ratios = [b[k] / a[k] for a, b in zip(times[small], times[large], strict=True)]
            print(
                f"{label:16s} {large // 1000}k / {small // 1000}k: median {statistics.median(ratios):.2f}x "
                f"(per round {min(ratios):.2f}-{max(ratios):.2f})"
            )
        print(f"{'total':16s} {large // 1000}k / {small // 1000}k: {totals[large] / totals[small]:.2f}x")
        print(f"{'rebuild':16s} {large // 1000}k / {small // 1000}k: {proposed[large] / proposed[small]:.2f}x")


if __name__ == "__main__":
    main()
