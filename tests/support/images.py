"""Text rendered into images in the test: lines on white, A4 pages as scanned, English and Chinese.

The font is Noto Sans CJK (Debian `fonts-noto-cjk`, installed by scripts/system-deps.sh --test) or
WenQuanYi Zen Hei; both draw Latin and Chinese.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

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


def image_bytes(lines: list[str], fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    text_image(lines, size=30).convert("RGB").save(out, format=fmt, **options)
    return out.getvalue()


def tiff_bytes(pages: list[str]) -> bytes:
    frames = [text_image([page], size=30) for page in pages]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()
