"""Elements to chunks that keep a heading with the text it introduces.

A plain character splitter over the whole document often ends a chunk with the next section's
heading and starts the next chunk with that section's answer, so neither chunk matches a question
about it. Here a heading always opens a section; whole small sections are packed together, and a
long section is split with the heading repeated on each piece. A chunk never spans two pages,
sheets or slides, so its metadata can cite one.

Splitting prefers paragraph, line, sentence (Chinese and Western), clause and word boundaries in
that order; a CJK run with no punctuation left is cut between jieba words, never inside one.
Lengths count a CJK character `cjk_weight` times, as it holds about as much as a short word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingestion import cjk
from ingestion.elements import Element

# Regexes, tried in order; each separator stays at the end of the piece it closes.
SEPARATORS = [
    r"\n\n",
    r"\n",
    r"[。！？][”’」』）]?|[.!?][\"')\]]? ",
    r"[；;：]|[，、]|, ",
    r" ",
    "",
]
_HEADING_MARKS = re.compile(r"[\s¶#§]+$")
# Chatchat's zh_title_enhance test: short, no closing punctuation, mostly letters, a numeral early.
_ENDS_IN_PUNCTUATION = re.compile(r"[^\w\s]\Z")
_BODY_CATEGORIES = ("Text", "NarrativeText", "UncategorizedText")


@dataclass
class ChunkDraft:
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Section:
    title: str | None
    parts: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = ([self.title] if self.title else []) + self.parts
        return "\n".join(lines)


class _Splitter(RecursiveCharacterTextSplitter):
    """Recursive splitting whose last resort, for CJK text, is a jieba word boundary."""

    def __init__(self, chunk_size: int, chunk_overlap: int, length: Callable[[str], int]) -> None:
        super().__init__(
            chunk_size=chunk_size,
            chunk_overlap=min(chunk_overlap, chunk_size // 2),
            separators=SEPARATORS,
            keep_separator="end",
            is_separator_regex=True,
            length_function=length,
        )

    def _split_text(self, text: str, separators: list[str]) -> list[str]:
        if any(s and re.search(s, text) for s in separators) or not cjk.has_cjk(text):
            return super()._split_text(text, separators)
        pieces: list[str] = []
        for word in cjk.words(text):
            # A "word" longer than a chunk (a long URL, a number) can only be cut.
            pieces.extend(list(word) if self._length_function(word) > self._chunk_size else [word])
        return self._merge_splits(pieces, "")


def chunk_elements(
    elements: list[Element],
    chunk_size: int,
    chunk_overlap: int,
    *,
    cjk_weight: float = 1.0,
    title_enhance: bool = False,
) -> list[ChunkDraft]:
    """Group elements into sections at headings, then pack or split sections into chunks.

    `chunk_size` and `chunk_overlap` are in characters, a CJK character counting `cjk_weight`;
    with `title_enhance`, short numbered lines of body text are taken as headings.
    """
    length = cjk.weighted_length(cjk_weight)
    splitter = _Splitter(chunk_size, chunk_overlap, length)
    if title_enhance:
        elements = [promote_title(e) for e in elements]
    chunks: list[ChunkDraft] = []
    pending: list[_Section] = []
    pending_len = 0

    def flush() -> None:
        nonlocal pending, pending_len
        if pending:
            text = "\n\n".join(s.text() for s in pending)
            meta = dict(pending[0].meta)
            if pending[0].title:
                meta["title"] = pending[0].title
            chunks.append(ChunkDraft(text, meta))
        pending, pending_len = [], 0

    for section in _sections(elements):
        text = section.text()
        if not text.strip():
            continue
        size = length(text)
        if size > chunk_size:
            flush()
            chunks.extend(_split_section(section, splitter, length))
            continue
        if pending and (pending_len + size + 2 > chunk_size or section.meta != pending[0].meta):
            flush()
        pending.append(section)
        pending_len += size + 2
    flush()
    return chunks


def promote_title(element: Element) -> Element:
    """A body element that looks like a heading ("第三章 系统配置", "2 Installation") as a Title."""
    if element.category in _BODY_CATEGORIES and is_possible_title(element.text):
        return Element(element.text, "Title", element.metadata)
    return element


def is_possible_title(text: str, max_length: int = 20) -> bool:
    text = text.strip()
    if not text or len(text) > max_length or text.isnumeric():
        return False
    if _ENDS_IN_PUNCTUATION.search(text) or text.endswith((",", ".", "，", "。")):
        return False
    visible = [ch for ch in text if not ch.isspace()]
    if sum(ch.isalpha() for ch in visible) < 0.5 * len(visible):
        return False
    return any(ch.isnumeric() for ch in text[:5])


def _sections(elements: list[Element]) -> list[_Section]:
    """Sections open at each heading, and again (same heading) where the page, sheet or slide changes."""
    sections: list[_Section] = []
    current = _Section(title=None)
    for element in elements:
        where = element.chunk_metadata()
        if element.category == "Title":
            if current.parts or current.title:
                sections.append(current)
            current = _Section(title=_clean_heading(element.text), meta=where)
            continue
        if current.parts and where != current.meta:
            sections.append(current)
            current = _Section(title=current.title, meta=where)
        elif not current.parts:
            current.meta = where
        current.parts.append(element.text)
    if current.parts or current.title:
        sections.append(current)
    return sections


def _split_section(section: _Section, splitter: _Splitter, length: Callable[[str], int]) -> list[ChunkDraft]:
    body = "\n".join(section.parts)
    title = section.title
    chunk_size = splitter._chunk_size
    budget = chunk_size - (length(title) + 1 if title else 0)
    if budget < chunk_size // 2:
        title, budget = None, chunk_size
        body = section.text()
    pieces = _Splitter(budget, splitter._chunk_overlap, length).split_text(body)
    meta = dict(section.meta)
    if section.title:
        meta["title"] = section.title
    return [ChunkDraft(f"{title}\n{piece}" if title else piece, dict(meta)) for piece in pieces]


def _clean_heading(text: str) -> str:
    return _HEADING_MARKS.sub("", text.strip())
