"""Documents to text elements, by kind.

PDFs through PDFium with OCR for pages without a usable text layer (`ingestion.pdf`), images by
OCR (`ingestion.images`), csv / tsv / xlsx / json by their own readers (`ingestion.tables`,
`ingestion.jsondoc`), EPUB chapter by chapter (`ingestion.epub`), and the rest through LangChain's
`UnstructuredLoader`, whose tables are rewritten row by row.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from ingestion import unstructured_offline
from ingestion.elements import Element
from ingestion.epub import epub_chapters
from ingestion.errors import DocumentError
from ingestion.filetypes import kind_of, mime_type
from ingestion.images import parse_image
from ingestion.jsondoc import parse_json
from ingestion.ocr import PageProgress
from ingestion.pdf import parse_pdf
from ingestion.settings import IngestionSettings
from ingestion.tables import html_table_lines, parse_delimited, parse_xlsx

__all__ = ["Element", "PageProgress", "parse_document"]

log = logging.getLogger(__name__)

# Metadata worth keeping on an element besides its location.
_KEPT_METADATA = ("page_number", "filetype")


def parse_document(
    path: Path,
    extension: str,
    settings: IngestionSettings | None = None,
    progress: PageProgress | None = None,
) -> list[Element]:
    """Partition a stored upload into text elements.

    Stored uploads have no extension (they are named by their sha256), so the caller passes the
    one the upload was recognised as. `progress(done, total)` reports pages as OCR reads them.

    Raises:
        DocumentError: the file cannot be parsed, holds no text, or needs OCR that fails.
    """
    settings = settings or IngestionSettings()
    kind = kind_of(extension)
    mime = kind.mime if kind else "application/octet-stream"
    if extension == ".pdf":
        return _nonempty(parse_pdf(path, settings, progress), ocr=settings.ocr_enabled)
    if kind is not None and kind.family == "image":
        return _nonempty(parse_image(path, mime, settings, progress))
    if extension in (".csv", ".tsv"):
        return _nonempty(parse_delimited(path, extension, mime))
    if extension == ".xlsx":
        return _nonempty(parse_xlsx(path, mime))
    if extension == ".json":
        return _nonempty(parse_json(path, mime))
    return _nonempty(_parse_with_unstructured(path, extension, settings))


def _parse_with_unstructured(path: Path, extension: str, settings: IngestionSettings) -> list[Element]:
    unstructured_offline.apply()
    languages = [lang for lang in settings.ocr_languages.split("+") if lang]
    with tempfile.TemporaryDirectory(prefix="kb-parse-") as tmp:
        if extension == ".epub":
            documents: list[Document] = []
            for i, (_, xhtml) in enumerate(epub_chapters(path)):
                chapter = Path(tmp) / f"chapter{i}.html"
                chapter.write_bytes(xhtml)
                documents += _load(chapter, ".html", languages)
                chapter.unlink()
        else:
            link = Path(tmp) / f"document{extension}"
            os.symlink(path.resolve(), link)
            documents = _load(link, extension, languages)
    elements = [e for e in (_element(doc, extension) for doc in documents) if e is not None]
    if extension == ".eml" and documents:
        # The subject is the title; short body lines ("Hi Bob,") are not headings.
        elements = _email_header(documents[0].metadata) + [_as_text(e) for e in elements]
    if extension == ".pptx":
        # A slide's first title is its heading; unstructured also calls short bullet text "Title".
        seen: set[object] = set()
        slides = []
        for e in elements:
            slide = e.metadata.get("slide")
            slides.append(_as_text(e) if e.category == "Title" and slide in seen else e)
            if e.category == "Title":
                seen.add(slide)
        elements = slides
    return elements


def _as_text(element: Element) -> Element:
    return Element(element.text, "Text", element.metadata) if element.category == "Title" else element


def _element(doc: Document, extension: str) -> Element | None:
    text = (doc.page_content or "").strip()
    category = str(doc.metadata.get("category", "Text"))
    if category == "Table" and doc.metadata.get("text_as_html"):
        text = "\n".join(html_table_lines(str(doc.metadata["text_as_html"]))) or text
    if not text:
        return None
    meta = {k: doc.metadata[k] for k in _KEPT_METADATA if doc.metadata.get(k) is not None}
    if extension == ".pptx" and "page_number" in meta:
        meta["slide"] = meta.pop("page_number")
    return Element(text, category, meta)


def _email_header(meta: dict[str, Any]) -> list[Element]:
    header = {"filetype": meta.get("filetype", "message/rfc822")}
    fields = [
        ("From", meta.get("sent_from")),
        ("To", meta.get("sent_to")),
        ("Cc", meta.get("cc_recipient")),
        ("Date", meta.get("last_modified")),
    ]
    lines = [f"{name}: {', '.join(v) if isinstance(v, list) else v}" for name, v in fields if v]
    out = [Element(str(meta["subject"]).strip(), "Title", dict(header))] if meta.get("subject") else []
    if lines:
        out.append(Element("\n".join(lines), "Text", dict(header)))
    return out


def _nonempty(elements: list[Element], *, ocr: bool = True) -> list[Element]:
    if not elements:
        reason = "no text could be extracted from this file"
        if not ocr:
            reason += " (it may be a scan: OCR is disabled)"
        raise DocumentError(reason, code="empty_document")
    return elements


def _load(path: Path, extension: str, languages: list[str]) -> list[Document]:
    from langchain_unstructured import UnstructuredLoader

    try:
        loader = UnstructuredLoader(
            file_path=str(path),
            strategy="fast",
            include_page_breaks=False,
            languages=languages,
            # The type was already confirmed at upload; libmagic's guess can be wrong (a .md
            # full of code blocks comes back as application/javascript and is read as .txt).
            content_type=mime_type(extension),
            client=_idle_api_client(),
        )
        return list(loader.lazy_load())
    except Exception as exc:  # any parser failure is a property of this file
        raise DocumentError(_describe(exc, extension)) from exc


@functools.cache
def _idle_api_client() -> Any:
    """The loader builds an Unstructured API client per file even when parsing locally (~0.1 s
    each, measured: most of the per-file overhead on small files); it is never used, so one per
    process will do. The URL is unroutable on purpose: nothing may leave the machine."""
    from unstructured_client import UnstructuredClient

    return UnstructuredClient(api_key_auth="", server_url="http://127.0.0.1:9")


def _describe(exc: Exception, extension: str) -> str:
    name = type(exc).__name__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"the {extension} file cannot be parsed: {name}: {message}"[:500]
