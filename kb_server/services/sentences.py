"""Answer text cut into sentences, English and Chinese, keeping the markdown around them.

A sentence ends at . ! ? followed by white space or the end, at 。！？； (no space needed), and
at every line break; a fenced code block is one sentence. "e.g.", "i.e.", "etc.", initials,
version numbers (3.12) and file names (setup.py) do not end one, nor does anything inside
`code`. A marker the model wrote right after the full stop ("Bees make honey. [1]") stays
with its sentence.

Each `Piece` keeps the white space and line syntax (list bullets, heading hashes) that came
before it, so joining the pieces gives back the text and the markdown survives a re-rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*(```|~~~)")
# Markdown line syntax that belongs to the layout, not to the first sentence of the line.
_LINE_PREFIX = re.compile(r"^\s*(?:[-*+]\s+|\d{1,9}[.)]\s+|#{1,6}\s+|>\s*)*")
_MARKERS = r"(?:\s*(?:\[\d{1,3}(?:\s*[,，]\s*\d{1,3})*\]|【\d{1,3}】))*"
_CLOSERS = "\"'”’)）」』】"
_END = re.compile(
    rf"[.!?][{_CLOSERS}]*{_MARKERS}(?=\s|$)"  # English: the end must be followed by a space
    rf"|[。！？；][{_CLOSERS}]*{_MARKERS}"  # Chinese: no space after
)
_CODE_SPAN = re.compile(r"(`+)[^`]*?\1")
_MARKER = re.compile(r"[ \t]*(?:\[(\d{1,3}(?:\s*[,，]\s*\d{1,3})*)\]|【(\d{1,3})】)")
# Words whose full stop is not the end of a sentence (compared lower-cased, without the stop).
_ABBREVIATIONS = frozenset(
    ["e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "st", "fig", "approx", "ca", "al", "eg"]
)
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")
_LATIN_FULL_STOP = re.compile(r"(?<=[A-Za-z0-9)\]`])。")


@dataclass(frozen=True)
class Piece:
    before: str  # white space and line syntax since the previous sentence ("", " ", "\n- ", "\n\n")
    text: str  # the sentence as written, the model's markers included

    @property
    def is_code(self) -> bool:
        return _FENCE.match(self.text) is not None


def _mask_code(line: str) -> str:
    """The line with every code span's inside blanked, so nothing in it can end a sentence."""
    return _CODE_SPAN.sub(lambda m: m.group(1) + "x" * (len(m.group(0)) - 2 * len(m.group(1))) + m.group(1), line)


def _is_abbreviation(head: str) -> bool:
    match = _WORD_BEFORE.search(head)
    if match is None:
        return False
    word = match.group(1).lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha() and head[-2].isupper())


def _split_line(line: str) -> list[tuple[str, str]]:
    """(white space before, sentence) pairs of one line of prose."""
    masked = _mask_code(line)
    out: list[tuple[str, str]] = []
    start = 0
    for match in _END.finditer(masked):
        end = match.end()
        if masked[match.start()] == "." and _is_abbreviation(masked[: match.start() + 1]):
            continue
        chunk = line[start:end]
        if chunk.strip():
            lead = chunk[: len(chunk) - len(chunk.lstrip())]
            out.append((lead, chunk.strip()))
        start = end
    rest = line[start:]
    if rest.strip():
        out.append((rest[: len(rest) - len(rest.lstrip())], rest.strip()))
    return out


def split_sentences(text: str) -> list[Piece]:
    """The sentences of `text`, each with what came before it; `join_sentences` undoes this."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    pieces: list[Piece] = []
    pending = ""  # layout seen since the last sentence
    i = 0
    while i < len(lines):
        line = lines[i]
        if i:
            pending += "\n"
        fence = _FENCE.match(line)
        if fence:
            body = [line]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            if i < len(lines):
                body.append(lines[i])
            pieces.append(Piece(pending, "\n".join(body)))
            pending = ""
            i += 1
            continue
        prefix = _LINE_PREFIX.match(line)
        head = prefix.group(0) if prefix else ""
        pending += head
        for lead, sentence in _split_line(line[len(head) :]):
            pieces.append(Piece(pending + lead, sentence))
            pending = ""
        if not line[len(head) :].strip():
            pending = pending.rstrip(" \t")
        i += 1
    return pieces


def strip_markers(sentence: str) -> tuple[str, list[int]]:
    """The sentence without the model's [n], [1][2], [1, 2] or 【n】 markers, and the numbers cited.

    Markers inside `code` are code (`a[1]`), not citations, and stay.
    """
    cited: list[int] = []
    out: list[str] = []
    last = 0
    masked = _mask_code(sentence)
    for match in _MARKER.finditer(masked):
        out.append(sentence[last : match.start()])
        last = match.end()
        numbers = match.group(1) or match.group(2)
        for n in re.split(r"\s*[,，]\s*", numbers):
            if int(n) not in cited:
                cited.append(int(n))
    out.append(sentence[last:])
    clean = "".join(out).strip()
    return re.sub(r"\s+([.!?,;:])", r"\1", clean) if cited else clean, cited


def join_sentences(parts: Iterable[tuple[str, str]]) -> str:
    """(before, text) pairs back into one text."""
    return "".join(before + text for before, text in parts).strip()


def latin_full_stops(text: str) -> str:
    """An English answer's Chinese full stops after Latin text made English ("…months。" → "…months."):
    the few-shot prompt's Chinese example leads the 0.5B model to end English sentences that way."""
    return _LATIN_FULL_STOP.sub(".", text)
