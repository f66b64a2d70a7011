"""Build the int8 ONNX export of an embedding model once, check it, and cache both in the data dir.

    <cache>/onnx/<key>/model.int8.onnx   torch.onnx.export(dynamo=False) of a wrapper returning
                                         last_hidden_state, then quantize_dynamic(QInt8,
                                         per_channel=True, reduce_range=True)
                       tokenizer.json    the model's fast tokenizer
                       runtime.json      pad token, sequence length, pooling, normalisation, dim
                       quality.json      cosine vs the torch fp32 model on sample texts, and the verdict

`key` covers the model's files, pooling, length and the recipe, so a changed model is rebuilt.
The build runs under a lock file (two worker processes starting together build it once) into a
temporary directory renamed into place: a reader sees a complete directory or none. A build that
fails is recorded too (quality.json with the error), so processes do not retry it at every start;
delete the directory to try again.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vectorstore.errors import EmbedderUnavailable
from vectorstore.model_spec import ModelSpec
from vectorstore.onnx_embedder import MODEL_FILE, TOKENIZER_FILE, OnnxEmbedder, RuntimeConfig
from vectorstore.quality_samples import quality_samples

log = logging.getLogger(__name__)

RECIPE = "onnx-export-opset17+quantize_dynamic-qint8-per_channel-reduce_range/v1"
QUALITY_FILE = "quality.json"
OPSET = 17


Exporter = Callable[[ModelSpec, Path], None]


class ReferenceEmbedder(Protocol):
    """What the int8 vectors are compared with: the fp32 model existing KBs were built with."""

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class QualityRecord:
    passed: bool
    cosine_mean: float
    cosine_min: float
    samples: int
    min_mean: float
    floor: float
    recipe: str
    built_at: str
    versions: dict[str, str]
    error: str | None = None

    def meets(self, min_mean: float, floor: float) -> bool:
        """Whether the measured cosines reach these limits (settings may change after the build)."""
        return self.error is None and self.cosine_mean >= min_mean and self.cosine_min >= floor

    def save(self, folder: Path) -> None:
        (folder / QUALITY_FILE).write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> QualityRecord:
        return cls(**json.loads((folder / QUALITY_FILE).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Int8Build:
    folder: Path
    quality: QualityRecord

    @property
    def usable(self) -> bool:
        return self.quality.error is None and (self.folder / MODEL_FILE).is_file()


def int8_folder(spec: ModelSpec, cache_dir: Path) -> Path:
    return cache_dir / "onnx" / spec.key(f"{RECIPE}|{_versions()}")


def ensure_int8_model(
    spec: ModelSpec,
    cache_dir: Path,
    reference: Callable[[], ReferenceEmbedder],
    min_mean: float = 0.98,
    floor: float = 0.9,
    samples: list[str] | None = None,
    exporter: Exporter | None = None,
) -> Int8Build:
    """The cached int8 export of `spec`, built and quality-checked first if it is not there yet.

    `reference` loads the fp32 model; it is only called when a build runs. `exporter` writes the
    model, tokenizer and runtime files into a folder (default: a sentence-transformers directory).

    Raises:
        EmbedderUnavailable: the model is not a local directory, or onnx / onnxruntime is missing.
    """
    if not spec.local:
        raise EmbedderUnavailable("the int8 ONNX backend needs the model as a local directory")
    folder = int8_folder(spec, cache_dir)
    if (folder / QUALITY_FILE).is_file():
        return Int8Build(folder, QualityRecord.load(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder.parent / f"{folder.name}.lock"):
        if (folder / QUALITY_FILE).is_file():  # built by another process while we waited
            return Int8Build(folder, QualityRecord.load(folder))
        for stale in folder.parent.glob(f".{folder.name}.*"):  # left by a build that died
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            record = _build(
                spec, work, reference, min_mean, floor, samples or quality_samples(), exporter or _export_int8
            )
            record.save(work)
            os.replace(work, folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info(
        "int8 ONNX model in %s: cosine vs fp32 mean %.4f min %.4f -> %s",
        folder, record.cosine_mean, record.cosine_min, "used" if record.passed else "not used by auto",
    )  # fmt: skip
    return Int8Build(folder, record)


def _build(
    spec: ModelSpec,
    work: Path,
    reference: Callable[[], ReferenceEmbedder],
    min_mean: float,
    floor: float,
    samples: list[str],
    exporter: Exporter,
) -> QualityRecord:
    def record(passed: bool, mean: float, low: float, error: str | None = None) -> QualityRecord:
        return QualityRecord(
            passed, mean, low, len(samples), min_mean, floor, RECIPE,
            datetime.now(UTC).isoformat(timespec="seconds"), _versions_dict(), error,
        )  # fmt: skip

    try:
        exporter(spec, work)
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"building the int8 embedding model needs 'torch', 'transformers', 'onnx' and 'onnxruntime': {exc}"
        ) from exc
    except Exception as exc:  # torch.onnx and the quantizer raise many kinds; record and fall back
        log.exception("int8 ONNX export of %s failed", spec.location)
        return record(False, 0.0, 0.0, f"{type(exc).__name__}: {exc}"[:2000])
    check = OnnxEmbedder(work, "check", batch_size=16, threads=0, document_prefix=spec.document_prefix)
    candidate = check.embed_documents(samples)
    expected = reference().embed_documents(samples)
    cosines = np.sum(_unit(candidate) * _unit(expected), axis=1)
    mean, low = float(cosines.mean()), float(cosines.min())
    return record(mean >= min_mean and low >= floor, round(mean, 5), round(low, 5))


def _export_int8(spec: ModelSpec, work: Path) -> None:
    import inspect

    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(spec.location)
    if not getattr(tokenizer, "is_fast", False) or tokenizer.pad_token is None:
        raise ValueError("the model has no fast tokenizer with a padding token")
    model = AutoModel.from_pretrained(spec.location).eval()
    with_types = "token_type_ids" in inspect.signature(model.forward).parameters
    first_id = 101 if tokenizer.cls_token_id is None else tokenizer.cls_token_id
    dim = int(model.config.hidden_size)
    fp32 = export_fp32_graph(model, work, with_types, first_id, int(tokenizer.pad_token_id or 0))
    del model
    quantize_graph(fp32, work)
    tokenizer.backend_tokenizer.save(str(work / TOKENIZER_FILE))
    RuntimeConfig(
        pad_id=int(tokenizer.pad_token_id),
        pad_token=str(tokenizer.pad_token),
        max_seq_length=spec.max_seq_length,
        pooling=spec.pooling or "mean",
        normalize=spec.normalize,
        dim=dim,
    ).save(work)


def export_fp32_graph(model: Any, work: Path, with_types: bool, first_id: int, pad_id: int) -> Path:
    """Write a transformers encoder's last_hidden_state as an fp32 ONNX graph into `work`; its path.

    `first_id` (CLS or `<s>`) and `pad_id` shape the example batch the exporter traces. Drop the
    model before `quantize_graph`: the quantizer holds the graph several times over.
    """
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            names = ("input_ids", "attention_mask", "token_type_ids")
            return self.model(**dict(zip(names, inputs, strict=False))).last_hidden_state

    # Padding in the example batch: the traced graph must keep the masked-attention path.
    ids = torch.full((2, 16), pad_id, dtype=torch.int64)
    ids[:, 0] = first_id
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    inputs = (ids, mask, torch.zeros_like(ids)) if with_types else (ids, mask)
    names = ["input_ids", "attention_mask", "token_type_ids"][: len(inputs)]
    fp32 = work / "model.fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            LastHiddenState(),
            inputs,
            str(fp32),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
            opset_version=OPSET,
        )
    return fp32


def quantize_graph(fp32: Path, work: Path) -> None:
    """`fp32` int8-quantised into `work`/model.int8.onnx (per channel, reduced range); `fp32` deleted."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    gc.collect()  # the exporter's traced copies of the weights
    with _quiet_quantizer():
        quantize_dynamic(
            str(fp32), str(work / MODEL_FILE), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
        )
    fp32.unlink()


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _versions_dict() -> dict[str, str]:
    found = {}
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


def _versions() -> str:
    # Only what changes the built file or its numerics; not read from the modules (no torch import).
    found = _versions_dict()
    return ",".join(f"{k}={found.get(k, '-')}" for k in ("torch", "onnxruntime"))


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _QuantizerChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname or record.levelno >= logging.ERROR


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    # quantize_dynamic logs a line per tensor, and advice about static quantization, on the root
    # logger; none of it concerns the operator.
    root, chatter = logging.getLogger(), _QuantizerChatter()
    root.addFilter(chatter)
    try:
        yield
    finally:
        root.removeFilter(chatter)
