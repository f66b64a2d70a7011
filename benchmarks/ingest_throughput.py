"""Ingestion throughput: kb-server end to end vs its embedder's raw encode vs a Chatchat-style pipeline.

Corpus: every leaf section of the Python FAQ pages and every chapter section of the Debian Live
manual (../shared/data), each as its own small HTML file, in as many revisions as it takes to
reach the wanted file count (a revision marks every 25 words, so each chunk text is distinct and
no cache can skip it; the run prints how many are). Then, side by side in one run:

  (a) the limit: the embedder's raw encode over exactly the chunks kb-server produces, for the
      int8 default — in one process with 2 threads and in 2 single-threaded processes at once,
      each measured before and after (b) — and for torch fp32;
  (b) kb-server: a real server (`kb-server up`: embedded Redis, a worker, the API); every file
      uploaded over HTTP, timed until every file is done;
  (c) the peer: per file, LangChain's UnstructuredFileLoader → RecursiveCharacterTextSplitter(750,150)
      → the same MiniLM in fp32 (sentence-transformers as LangChain Embeddings) → LangChain FAISS
      add + save_local after each file, as Langchain-Chatchat 0.3 does.

    .venv/bin/python -m benchmarks.ingest_throughput [--quick] [--files 1000] [--workers 1] [--preset multilingual]
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from bs4 import BeautifulSoup

from benchmarks.harness import SHARED_DATA, Server, create_kb, upload_paths, wait_settled
from benchmarks.synthetic import load_average
from kb_server.settings import WorkerSettings
from vectorstore import Embedder, EmbeddingSettings, build_embedder

UPLOAD_BATCH = 50


def sections() -> list[tuple[str, str]]:
    """(name, html body) of each leaf section of the FAQ and each section of the manual."""
    found: list[tuple[str, str]] = []
    for page in sorted((SHARED_DATA / "python-faq" / "html").glob("*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for k, section in enumerate(s for s in soup.find_all("section") if not s.find("section")):
            found.append((f"faq-{page.stem}-{k}", str(section)))
    manual = BeautifulSoup((SHARED_DATA / "formats" / "live-manual.en.html").read_text(encoding="utf-8"), "html.parser")
    current: list[str] = []
    for element in manual.find_all(["h1", "h4", "p", "pre", "ul", "ol", "table"]):
        if element.name in ("h1", "h4") and sum(len(e) for e in current) > 400:
            found.append((f"manual-{len(found)}", "".join(current)))
            current = []
        if element.find_parent(["ul", "ol", "table", "pre"]) is None:
            current.append(str(element))
    if current:
        found.append((f"manual-{len(found)}", "".join(current)))
    return found


MARK_EVERY = 25  # words: every chunk (>= 150 characters of overlap alone) holds a mark


def mark_revision(html: str, revision: int) -> str:
    """The section with a revision mark at the start of every text and every MARK_EVERY words,
    so that no chunk of one revision equals a chunk of another (a mark per paragraph is not
    enough: the later pieces of a long paragraph would repeat, and the vector cache skip them)."""
    soup = BeautifulSoup(html, "html.parser")
    for node in list(soup.find_all(string=True)):
        if node.strip():
            words = node.split(" ")
            for i in range(0, len(words), MARK_EVERY):
                words[i] = f"r{revision}:{words[i]}"
            node.replace_with(" ".join(words))
    return str(soup)


def write_corpus(folder: Path, files: int) -> list[Path]:
    base = sections()
    revisions = math.ceil(files / len(base))
    folder.mkdir(parents=True)
    paths = []
    for rev in range(revisions):
        for name, html in base:
            if len(paths) == files:
                return paths
            marked = mark_revision(html, rev + 1) if rev else html
            path = folder / f"{name}-r{rev + 1}.html"
            intro = f"<p>Section {name}, revision {rev + 1}.</p>"  # no two files share their bytes
            path.write_text(f"<html><head><title>{name}</title></head><body>{intro}{marked}</body></html>", "utf-8")
            paths.append(path)
    return paths


def kb_server(root: Path, cache: Path, paths: list[Path], workers: int, preset: str) -> tuple[float, list[str]]:
    """Seconds from the first upload to every file done, and the chunk texts the server made."""
    # The server gets the int8 build made above but its own, empty vector cache: the corpus is the
    # same from run to run, and a warm cache would skip the embedding we are here to measure. Its
    # worker runs at normal priority, as it did for the figures in the README.
    server = Server(
        root,
        onnx_dir=cache / "onnx",
        KB_WORKER__CONCURRENCY=str(workers),
        KB_WORKER__NICE="0",
        KB_EMBEDDING__PRESET=preset,
    )
    server.start()
    try:
        client = server.http
        create_kb(client, "bench")
        started = time.perf_counter()
        for start in range(0, len(paths), UPLOAD_BATCH):
            accepted = upload_paths(client, "bench", paths[start : start + UPLOAD_BATCH])
            assert all(a["status"] == "queued" for a in accepted), accepted
        files = wait_settled(client, "bench", expected=len(paths), timeout_s=7200)
        elapsed = time.perf_counter() - started
        failed = [f["name"] for f in files if f["status"] != "done"]
        assert not failed, f"files failed: {failed[:5]}"
    finally:
        server.stop()
    with sqlite3.connect(server.data_dir / "kb.sqlite3") as db:
        texts = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]
    return elapsed, texts


def chunk_in_process(paths: list[Path]) -> list[str]:
    """The chunk texts kb-server's parser and chunker make of these files, with default settings."""
    from ingestion.chunking import chunk_elements
    from ingestion.parsing import parse_document
    from ingestion.settings import IngestionSettings

    settings = IngestionSettings()
    texts: list[str] = []
    for path in paths:
        drafts = chunk_elements(
            parse_document(path, ".html", settings),
            settings.chunk_size,
            settings.chunk_overlap,
            cjk_weight=settings.cjk_char_weight,
            title_enhance=settings.title_enhance,
        )
        texts += [d.text for d in drafts]
    return texts


_child_embedder: Embedder | None = None


def _load_child(cache: Path, settings: EmbeddingSettings) -> None:
    global _child_embedder
    _child_embedder = build_embedder(settings.model_copy(update={"threads": 1}), cache_dir=cache)
    _child_embedder.embed_documents(["warm up"])


def _encode_share(texts: list[str]) -> int:
    assert _child_embedder is not None
    return len(_child_embedder.embed_documents(texts))


def raw_encode_in_processes(cache: Path, settings: EmbeddingSettings, texts: list[str], processes: int) -> float:
    """Chunks per second of `processes` single-threaded embedders encoding equal shares at once."""
    shares = [texts[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_load_child, initargs=(cache, settings)) as pool:
        pool.map(_encode_share, [["warm up"]] * processes)
        started = time.perf_counter()
        pool.map(_encode_share, shares, chunksize=1)
        return len(texts) / (time.perf_counter() - started)


def raw_encode(embedder: Embedder, texts: list[str]) -> float:
    """Chunks per second of one embed_documents call over all texts (the embedder sorts by length)."""
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def chatchat_style(root: Path, paths: list[Path]) -> tuple[float, int]:
    """Seconds for the whole corpus, and the chunks it made."""
    from langchain_community.document_loaders import UnstructuredFileLoader
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingestion import unstructured_offline
    from vectorstore.embedders import bundled_minilm_path

    unstructured_offline.apply()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_minilm_path()), device="cpu")

    class MiniLM(Embeddings):  # what HuggingFaceEmbeddings does with this model
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return model.encode(texts, batch_size=32, normalize_embeddings=True).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    embeddings = MiniLM()
    splitter = RecursiveCharacterTextSplitter(chunk_size=750, chunk_overlap=150)
    folder = root / "faiss"
    store = None
    chunks = 0
    UnstructuredFileLoader(str(paths[0])).load()  # unstructured's first call loads its models: not timed
    started = time.perf_counter()
    for path in paths:
        docs = splitter.split_documents(UnstructuredFileLoader(str(path)).load())
        chunks += len(docs)
        if store is None:
            store = FAISS.from_documents(docs, embeddings)
        else:
            store.add_documents(docs)
        store.save_local(str(folder))
    return time.perf_counter() - started, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="120 files")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=WorkerSettings().concurrency,
        help="kb-server worker processes (threads = cores / this); default: the server's",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse a built int8 model")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--preset", default="minilm", help="embedding.preset of the server and the raw encodes")
    args = parser.parse_args()
    n_files = 120 if args.quick else args.files
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per status poll otherwise

    with tempfile.TemporaryDirectory(prefix="kb-ingest-") as tmp:
        root = Path(tmp)
        cache = args.cache_dir or root / "cache"
        paths = write_corpus(root / "corpus", n_files)
        size_kb = sum(p.stat().st_size for p in paths) / 1024
        embedding = EmbeddingSettings(preset=args.preset, vector_cache=False)
        int8 = build_embedder(embedding, cache_dir=cache)  # builds the model once
        torch = build_embedder(embedding.model_copy(update={"backend": "torch"}))
        print(
            f"{len(paths)} files ({size_kb:.0f} KiB), preset {args.preset}, {os.cpu_count()} cores, "
            f"load average {load_average()}"
        )

        texts = chunk_in_process(paths)
        print(f"kb-server's chunker makes {len(texts)} chunks of these files, {len(set(texts))} distinct", flush=True)
        int8.embed_documents(texts[:64])
        torch.embed_documents(texts[:64])
        int8_rates = [raw_encode(int8, texts)]
        split_rates = [raw_encode_in_processes(cache, embedding, texts, 2)]
        print(f"    load average {load_average()}", flush=True)

        seconds, server_texts = kb_server(root / "stack", cache, paths, args.workers, args.preset)
        if sorted(server_texts) != sorted(texts):
            print("    note: the server's chunks differ from the in-process chunking; raw rates use the server's")
            texts = server_texts
        server_rate = len(texts) / seconds
        print(f"(b) kb-server ({args.workers} workers, int8): {len(texts)} chunks in {seconds:.1f} s", flush=True)
        print(f"    load average {load_average()}", flush=True)
        int8_rates.append(raw_encode(int8, texts))
        split_rates.append(raw_encode_in_processes(cache, embedding, texts, 2))
        torch_rate = raw_encode(torch, texts)
        print(f"    load average {load_average()}", flush=True)

        if not args.skip_peer:
            peer_seconds, peer_chunks = chatchat_style(root, paths)
        print(f"    load average {load_average()}")
        print()
        print(f"{'':44} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} {'files/s':>8}")
        rows = [
            ("(a) raw encode, int8, 1 process x 2 threads", len(texts), None, int8_rates),
            ("(a) raw encode, int8, 2 processes x 1 thread", len(texts), None, split_rates),
            ("(a) raw encode, torch fp32", len(texts), None, [torch_rate]),
            ("(b) kb-server end to end (HTTP, int8)", len(texts), seconds, [server_rate]),
        ]
        if not args.skip_peer:
            rows.append(
                ("(c) Chatchat-style LangChain (fp32)", peer_chunks, peer_seconds, [peer_chunks / peer_seconds])
            )
        for label, chunks, secs, rates in rows:
            shown_rate = f"{min(rates):.1f}-{max(rates):.1f}" if len(rates) > 1 else f"{rates[0]:.1f}"
            shown_secs = f"{secs:8.1f}" if secs else f"{chunks / max(rates):8.1f}"
            files_rate = f"{len(paths) / secs:8.2f}" if secs else f"{'':8}"
            print(f"{label:44} {chunks:7d} {shown_secs} {shown_rate:>9} {files_rate}")
        print()
        print(
            f"kb-server / int8 raw encode:  {server_rate / max(int8_rates):.2f} - {server_rate / min(int8_rates):.2f}"
            " (1 process x 2 threads)"
        )
        print(
            f"kb-server / int8 raw encode:  {server_rate / max(split_rates):.2f} - {server_rate / min(split_rates):.2f}"
            " (2 processes x 1 thread)"
        )
        distinct_rate = len(set(texts)) / seconds
        print(
            f"kb-server / int8 raw encode:  {distinct_rate / max(split_rates):.2f} - "
            f"{distinct_rate / min(split_rates):.2f} (2 processes x 1 thread, counting only the "
            f"{len(set(texts))} distinct chunks: the vector cache embeds a repeated text once)"
        )
        print(f"int8 raw / fp32 raw:          {min(int8_rates) / torch_rate:.2f} - {max(int8_rates) / torch_rate:.2f}")
        print(f"kb-server / fp32 raw encode:  {server_rate / torch_rate:.2f}")
        if not args.skip_peer:
            print(f"kb-server / peer, chunks/s:   {server_rate / (peer_chunks / peer_seconds):.2f}")
            print(f"kb-server / peer, same files: {peer_seconds / seconds:.2f} (peer seconds / kb-server seconds)")


if __name__ == "__main__":
    main()
