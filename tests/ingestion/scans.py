"""Scans made in the test: text rendered into images and image-only PDFs, English and Chinese.

The font is Noto Sans CJK (Debian `fonts-noto-cjk`, installed by scripts/system-deps.sh --test) or
WenQuanYi Zen Hei; both draw Latin and Chinese.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from tests.ingestion.documents import pdf_bytes

_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
_TOKENS = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]|[^\s\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+\s*|\s+")
A4_INCHES = (8.27, 11.69)


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    for candidate in _FONTS:
        if Path(candidate).exists():
            break
    else:
        pytest.fail("no CJK font: install fonts-noto-cjk (scripts/system-deps.sh --test)")
    for index in range(8):  # the Simplified Chinese face of a collection
        face = ImageFont.truetype(candidate, size, index=index)
        family = face.getname()[0] or ""
        if "SC" in family or "Hei" in family:
            return face
    return ImageFont.truetype(candidate, size)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text):
        if line and face.getlength((line + token).rstrip()) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def text_image(paragraphs: list[str], *, size: int = 28, width: int = 1400) -> Image.Image:
    """A white image with the paragraphs in black, one blank line between them."""
    face = font(size)
    step = round(size * 1.5)
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += [*wrap(paragraph, face, width - 2 * size), ""]
    image = Image.new("L", (width, step * len(lines) + 2 * size), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size, size + i * step), line, font=face, fill=0)
    return image


def page_images(paragraphs: list[str], *, dpi: int = 300, points: float = 11) -> list[Image.Image]:
    """A4 pages (as scanned at `dpi`) holding the paragraphs in a `points`-sized font."""
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    size = round(points / 72 * dpi)
    face = font(size)
    margin, step = dpi, round(size * 1.45)
    per_page = (height - 2 * margin) // step
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += [*wrap(paragraph, face, width - 2 * margin), ""]
    pages = []
    for start in range(0, len(lines), per_page):
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines[start : start + per_page]):
            draw.text((margin, margin + i * step), line, font=face, fill=0)
        pages.append(image)
    return pages


def image_pdf(images: list[Image.Image], dpi: int = 300) -> bytes:
    """An image-only PDF: one page per image, no text layer at all."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def mixed_pdf(text_pages: list[str], scan: Image.Image, scan_at: int) -> bytes:
    """Text-layer pages with one scanned page inserted at index `scan_at`."""
    writer = PdfWriter()
    text = PdfReader(io.BytesIO(pdf_bytes(*text_pages)))
    scanned = PdfReader(io.BytesIO(image_pdf([scan])))
    pages = list(text.pages)
    pages.insert(scan_at, scanned.pages[0])
    for page in pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_garbled_text_layer(scan_pdf: bytes) -> bytes:
    """The scan's first page with an invisible text layer that maps every glyph to private use."""
    diffs = " ".join(f"/uniE{i:03X}" for i in range(26))
    content = b"BT /F1 12 Tf 3 Tr 72 720 Td (" + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ " * 4 + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        b"/Encoding << /Type /Encoding /Differences [65 %s] >> >>" % diffs.encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(scan_pdf)).pages[0])
    writer.pages[0].merge_page(PdfReader(io.BytesIO(bytes(out))).pages[0])
    merged = io.BytesIO()
    writer.write(merged)
    return merged.getvalue()
