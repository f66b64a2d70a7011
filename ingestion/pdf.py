"""PDF pages to text: the text layer where it is usable, OCR where it is not — page by page.

A page is read by OCR when its text layer holds fewer than `ocr_min_page_chars` letters and digits
(a scan, a page whose glyphs were never drawn as text) or is mostly replacement, private-use or
control characters (fonts without a usable Unicode mapping). A mixed PDF is OCR'd only on the
pages that need it. If OCR of such a page reads less than its text layer had, the layer is kept.

PDFium (pypdfium2) extracts, inspects and renders; it is not thread-safe, so every PDFium call
stays in the calling thread and only tesseract runs in parallel.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium

from ingestion.elements import Element
from ingestion.errors import DocumentError
from ingestion.ocr import PageImage, PageProgress, ocr_pages
from ingestion.settings import IngestionSettings

# A page is rendered at ocr_dpi unless that would exceed this many pixels (a poster-sized page).
MAX_RENDER_PIXELS = 40_000_000
# More than this share of unusable characters: the text layer is garbage.
MAX_GARBAGE_SHARE = 0.2
_MIME = "application/pdf"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_pdf(path: Path, settings: IngestionSettings, progress: PageProgress | None = None) -> list[Element]:
    """One element per page with text, `page_number` in its metadata.

    Raises:
        DocumentError: corrupt, truncated or encrypted; or OCR needed and failing.
    """
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError("the PDF is encrypted", code="encrypted_document") from exc
        raise DocumentError(f"the PDF cannot be read (corrupt, truncated or encrypted): {exc}"[:500]) from exc
    try:
        layer = [_page_text(document, i) for i in range(len(document))]
        scanned = [i for i, text in enumerate(layer) if needs_ocr(text, settings.ocr_min_page_chars)]
        ocr: dict[int, str] = {}
        if scanned and settings.ocr_enabled:
            renders = _renders(document, scanned, settings.ocr_dpi)
            ocr = ocr_pages(renders, len(scanned), settings, progress)
    finally:
        document.close()
    elements = []
    for number, text in enumerate(layer, 1):
        read = ocr.get(number, "")
        layer_ok = bool(text.strip()) and not garbled(text)
        if usable_chars(read) > (usable_chars(text) if layer_ok else 0):
            elements.append(Element(read, "Text", {"filetype": _MIME, "page_number": number, "ocr": True}))
        elif layer_ok:
            elements.append(Element(text.strip(), "Text", {"filetype": _MIME, "page_number": number}))
    return elements


def needs_ocr(text: str, min_chars: int) -> bool:
    """Whether a page's text layer is too thin or too garbled to stand for the page."""
    return usable_chars(text) < min_chars or garbled(text)


def garbled(text: str) -> bool:
    """Mostly characters no font mapped to Unicode: replacement, private-use, control, unassigned."""
    visible = [ch for ch in text if not ch.isspace()]
    return sum(1 for ch in visible if _is_garbage(ch)) > MAX_GARBAGE_SHARE * len(visible)


def usable_chars(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum() and not _is_garbage(ch))


def _is_garbage(ch: str) -> bool:
    # U+FFFD: a glyph PDFium could not map; Co: private use; Cc/Cn: control and unassigned.
    return ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cc", "Cn", "Cs")


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    try:
        page = document[index]
        textpage = page.get_textpage()
        try:
            raw = textpage.get_text_range()
        finally:
            textpage.close()
            page.close()
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"the PDF cannot be read (page {index + 1}): {exc}"[:500]) from exc
    # PDFium marks a word hyphenated at a line end with U+FFFE and ends lines with CRLF.
    text = raw.replace("\ufffe\r\n", "").replace("\ufffe", "-").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _renders(document: pdfium.PdfDocument, indexes: list[int], dpi: int) -> Iterator[PageImage]:
    for index in indexes:
        page = document[index]
        try:
            width, height = page.get_size()
            scale = min(dpi / 72, math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
            bitmap = page.render(scale=scale, grayscale=True)
            yield PageImage(index + 1, bitmap.to_pil(), round(scale * 72))
        finally:
            page.close()
