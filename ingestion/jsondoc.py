"""JSON documents as readable lines: "path.to.key: value", and lists of records as table rows.

unstructured reads any JSON that is not its own element format as one run of raw text, braces
and quotes included. Flattened, each value keeps the keys that say what it is.

A LangChain Document serialised as LangChain does (`langchain_core.load.dumpd`: `{"lc": 1, "type":
"constructor", "id": [..., "Document"], "kwargs": {"page_content", "metadata"}}`) is read as its
text, and its metadata is kept on every chunk: that is how `KBVectorStore.add_texts` hands a
text's metadata to ingestion.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ingestion.elements import DOCUMENT_METADATA, Element
from ingestion.errors import DocumentError
from ingestion.tables import rows_to_lines

MAX_DEPTH = 64
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def parse_json(path: Path, mime: str) -> list[Element]:
    """Title elements for the paths of nested objects and lists of records, Text / Table for values.

    Raises:
        DocumentError: not JSON (nor JSON Lines).
    """
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        value = _decode(raw)
    except RecursionError as exc:  # the decoder recurses once per level
        raise _too_deep() from exc
    if _is_langchain_document(value):
        return _document_elements(value["kwargs"], mime)
    elements: list[Element] = []
    _walk(value, "", elements, {"filetype": mime}, 0)
    return elements


def _is_langchain_document(value: Any) -> bool:
    if not isinstance(value, dict) or value.get("lc") != 1 or value.get("type") != "constructor":
        return False
    kwargs, ident = value.get("kwargs"), value.get("id")
    return (
        isinstance(ident, list)
        and ident[-1:] == ["Document"]
        and isinstance(kwargs, dict)
        and isinstance(kwargs.get("page_content"), str)
        and isinstance(kwargs.get("metadata", {}), dict)
    )


def _document_elements(kwargs: dict[str, Any], mime: str) -> list[Element]:
    """The text by paragraphs, each carrying the document's metadata."""
    meta = {"filetype": mime, DOCUMENT_METADATA: dict(kwargs.get("metadata") or {})}
    paragraphs = (p.strip() for p in _PARAGRAPH_BREAK.split(kwargs["page_content"]))
    return [Element(p, "Text", dict(meta)) for p in paragraphs if p]


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as first:
        try:  # JSON Lines: one value per line
            return [json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise DocumentError(f"the .json file is not valid JSON: {first}"[:500]) from first


def _too_deep() -> DocumentError:
    return DocumentError(f"the .json file nests deeper than {MAX_DEPTH} levels", code="too_deep")


def _walk(value: Any, path: str, out: list[Element], meta: dict[str, Any], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _too_deep()
    if isinstance(value, dict):
        scalars = [f"{_join(path, key)}: {_scalar(v)}" for key, v in value.items() if not _is_container(v)]
        if scalars:
            out.append(Element("\n".join(scalars), "Text", dict(meta)))
        for key, v in value.items():
            if _is_container(v):
                _walk(v, _join(path, key), out, meta, depth + 1)
    elif isinstance(value, list):
        if value and all(isinstance(item, dict) and not any(map(_is_container, item.values())) for item in value):
            keys = list(dict.fromkeys(k for item in value for k in item))
            rows = [keys] + [[_scalar(item.get(k)) if k in item else "" for k in keys] for item in value]
            if path:
                out.append(Element(path, "Title", dict(meta)))
            out.append(Element("\n".join(rows_to_lines(rows, header=True)), "Table", dict(meta)))
            return
        scalars = [_scalar(v) for v in value if not _is_container(v)]
        if scalars:
            out.append(Element(f"{path}: " + "; ".join(scalars) if path else "; ".join(scalars), "Text", dict(meta)))
        for i, v in enumerate(value):
            if _is_container(v):
                _walk(v, f"{path}[{i}]", out, meta, depth + 1)
    elif value is not None:
        out.append(Element(_scalar(value), "Text", dict(meta)))


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
