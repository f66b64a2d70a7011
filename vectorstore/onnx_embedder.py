"""Run an exported encoder with onnxruntime: own tokenization, length-sorted batches, pooling.

Needs only `onnxruntime`, `tokenizers` and numpy at run time (no torch), so a worker that uses
the int8 model loads in a second and holds ~100 MiB instead of torch's ~500 MiB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vectorstore.errors import EmbedderUnavailable

MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
RUNTIME_FILE = "runtime.json"


@dataclass(frozen=True)
class RuntimeConfig:
    """How to feed and read the exported graph; stored beside it at build time."""

    pad_id: int
    pad_token: str
    max_seq_length: int
    pooling: Literal["mean", "cls"]
    normalize: bool
    dim: int

    def save(self, folder: Path) -> None:
        (folder / RUNTIME_FILE).write_text(json.dumps(self.__dict__, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> RuntimeConfig:
        return cls(**json.loads((folder / RUNTIME_FILE).read_text(encoding="utf-8")))


class OnnxEmbedder:
    """An ONNX export of a sentence encoder on the CPU (the int8 one by default)."""

    backend = "onnx-int8"

    def __init__(
        self,
        folder: Path,
        name: str,
        batch_size: int,
        threads: int,
        query_instruction: str = "",
        document_prefix: str = "",
    ) -> None:
        """Load the graph and tokenizer built into `folder`.

        Raises:
            EmbedderUnavailable: onnxruntime or tokenizers is missing, or the files are unreadable.
        """
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailable(
                "the onnx-int8 embedding backend needs the 'onnxruntime' and 'tokenizers' packages"
            ) from exc
        try:
            self.config = RuntimeConfig.load(folder)
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Spinning threads would burn the cores the API and the other worker need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own, unexported error types
            raise EmbedderUnavailable(f"cannot load the ONNX embedding model in {folder}: {exc}") from exc
        tokenizer.enable_truncation(self.config.max_seq_length)
        tokenizer.enable_padding(pad_id=self.config.pad_id, pad_token=self.config.pad_token)
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch_size = batch_size
        self._query_instruction = query_instruction
        self._document_prefix = document_prefix
        self.name = name
        self.dim = self.config.dim
        self.identity = name  # build_embedder sets the full identity

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._embed([self._document_prefix + t for t in texts] if self._document_prefix else texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self._query_instruction + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Similar lengths share a batch, so little compute goes to padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self._batch_size):
            part = order[start : start + self._batch_size]
            out[part] = self._encode([texts[i] for i in part])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        if self.config.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.config.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.asarray(vectors, dtype=np.float32)
