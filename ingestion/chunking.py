"""Elements to chunks that keep a heading with the text it introduces.

A plain character splitter over the whole document often ends a chunk with the next section's
heading and starts the next chunk with that section's answer, so neither chunk matches a question
about it. Here a heading always opens a section; whole small sections are packed together, and a
long section is split with the heading repeated on each piece. Splitting uses Chinese-aware
separators, so CJK text breaks at sentence ends, not mid-word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingestion.parsing import Element

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", ". ", " ", ""]
_HEADING_MARKS = re.compile(r"[\s¶#§]+$")


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


def chunk_elements(elements: list[Element], chunk_size: int, chunk_overlap: int) -> list[ChunkDraft]:
    """Group elements into sections at headings, then pack or split sections into chunks."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        separators=SEPARATORS,
        keep_separator="end",
    )
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
        if len(text) > chunk_size:
            flush()
            chunks.extend(_split_section(section, splitter))
            continue
        if pending_len + len(text) + 2 > chunk_size:
            flush()
        pending.append(section)
        pending_len += len(text) + 2
    flush()
    return chunks


def _sections(elements: list[Element]) -> list[_Section]:
    sections: list[_Section] = []
    current = _Section(title=None)
    for element in elements:
        if element.category == "Title":
            if current.parts or current.title:
                sections.append(current)
            current = _Section(title=_clean_heading(element.text), meta=_location(element))
            continue
        if not current.parts and not current.meta:
            current.meta = _location(element)
        current.parts.append(element.text)
    if current.parts or current.title:
        sections.append(current)
    return sections


def _split_section(section: _Section, splitter: RecursiveCharacterTextSplitter) -> list[ChunkDraft]:
    body = "\n".join(section.parts)
    title = section.title
    budget = splitter._chunk_size - (len(title) + 1 if title else 0)
    if budget < splitter._chunk_size // 2:
        title, budget = None, splitter._chunk_size
        body = section.text()
    pieces = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=min(splitter._chunk_overlap, budget // 2),
        separators=SEPARATORS,
        keep_separator="end",
    ).split_text(body)
    meta = dict(section.meta)
    if section.title:
        meta["title"] = section.title
    return [ChunkDraft(f"{title}\n{piece}" if title else piece, dict(meta)) for piece in pieces]


def _clean_heading(text: str) -> str:
    return _HEADING_MARKS.sub("", text.strip())


def _location(element: Element) -> dict[str, Any]:
    return {k: v for k, v in element.metadata.items() if k in ("page_number", "page_name")}
