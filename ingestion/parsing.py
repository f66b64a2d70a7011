"""Documents to text elements: PDFs through pypdf, the rest through LangChain's `UnstructuredLoader`."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from ingestion import unstructured_offline
from ingestion.epub import epub_chapters
from ingestion.errors import DocumentError
from ingestion.filetypes import mime_type

log = logging.getLogger(__name__)

# Metadata worth keeping on a chunk for citations ("p. 12", a sheet name, a section).
_KEPT_METADATA = ("page_number", "page_name", "filetype", "languages")


@dataclass(frozen=True)
class Element:
    text: str
    category: str
    metadata: dict[str, Any] = field(default_factory=dict)


def parse_document(path: Path, extension: str) -> list[Element]:
    """Partition a stored upload into text elements.

    Stored uploads have no extension (they are named by their sha256), so the file is presented to
    unstructured under a neutral name with the right one.

    Raises:
        DocumentError: the file cannot be parsed or holds no text.
    """
    if extension == ".pdf":
        return _nonempty(_parse_pdf(path))
    unstructured_offline.apply()
    with tempfile.TemporaryDirectory(prefix="kb-parse-") as tmp:
        if extension == ".epub":
            documents: list[Document] = []
            for i, (_, xhtml) in enumerate(epub_chapters(path)):
                chapter = Path(tmp) / f"chapter{i}.html"
                chapter.write_bytes(xhtml)
                documents += _load(chapter, ".html")
                chapter.unlink()
        else:
            link = Path(tmp) / f"document{extension}"
            os.symlink(path.resolve(), link)
            documents = _load(link, extension)
    elements = []
    for doc in documents:
        text = (doc.page_content or "").strip()
        if not text:
            continue
        meta = {k: doc.metadata[k] for k in _KEPT_METADATA if doc.metadata.get(k) is not None}
        elements.append(Element(text, str(doc.metadata.get("category", "Text")), meta))
    return _nonempty(elements)


def _parse_pdf(path: Path) -> list[Element]:
    # unstructured's PDF partitioner needs its `pdf` extra (unstructured-inference, onnx, ...),
    # which is not installed; for a PDF's text layer pypdf is enough.
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        encrypted = reader.is_encrypted
        pages = [] if encrypted else [(page.extract_text() or "").strip() for page in reader.pages]
    except Exception as exc:  # any parser failure is a property of this file
        raise DocumentError(_describe(exc, ".pdf")) from exc
    if encrypted:
        raise DocumentError("the PDF is encrypted", code="encrypted_document")
    meta = {"filetype": "application/pdf"}
    return [Element(text, "Text", {**meta, "page_number": n}) for n, text in enumerate(pages, 1) if text]


def _nonempty(elements: list[Element]) -> list[Element]:
    if not elements:
        raise DocumentError("no text could be extracted from this file", code="empty_document")
    return elements


def _load(path: Path, extension: str) -> list[Document]:
    from langchain_unstructured import UnstructuredLoader

    try:
        loader = UnstructuredLoader(
            file_path=str(path),
            strategy="fast",
            include_page_breaks=False,
            languages=["eng", "chi_sim"],
            # The type was already confirmed at upload; libmagic's guess can be wrong (a .md
            # full of code blocks comes back as application/javascript and is read as .txt).
            content_type=mime_type(extension),
        )
        return list(loader.lazy_load())
    except Exception as exc:  # any parser failure is a property of this file
        raise DocumentError(_describe(exc, extension)) from exc


def _describe(exc: Exception, extension: str) -> str:
    name = type(exc).__name__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if extension == ".pdf":
        return f"the PDF cannot be read (corrupt, truncated or encrypted): {name}: {message}"[:500]
    return f"the {extension} file cannot be parsed: {name}: {message}"[:500]
