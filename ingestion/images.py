"""Image files (png, jpeg, tiff, bmp) to text by OCR, one element per frame (page of a TIFF)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ingestion.elements import Element
from ingestion.errors import DocumentError
from ingestion.ocr import PageImage, PageProgress, ocr_pages
from ingestion.settings import IngestionSettings

MAX_FRAMES = 2000


def parse_image(
    path: Path, mime: str, settings: IngestionSettings, progress: PageProgress | None = None
) -> list[Element]:
    """OCR an image file.

    Raises:
        DocumentError: not a readable image, too large (a decompression bomb), OCR disabled or failing.
    """
    if not settings.ocr_enabled:
        raise DocumentError("images are read by OCR, which is disabled (ingestion.ocr_enabled)", code="ocr_disabled")
    with _open(path) as image:
        frames = getattr(image, "n_frames", 1)
        if frames > MAX_FRAMES:
            raise DocumentError(f"the image has more than {MAX_FRAMES} frames", code="image_too_large")
        try:
            texts = ocr_pages(_frames(image), frames, settings, progress)
        except (OSError, ValueError) as exc:  # truncated data shows up when the pixels are decoded
            raise DocumentError(f"the image cannot be decoded: {exc}"[:500]) from exc
    meta: dict[str, object] = {"filetype": mime}
    elements = []
    for key in sorted(texts):
        if texts[key].strip():
            located = {**meta, "page_number": key} if frames > 1 else meta
            elements.append(Element(texts[key], "Text", dict(located)))
    return elements


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentError(f"the image is too large to read: {exc}"[:500], code="image_too_large") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DocumentError(f"the image cannot be read: {exc}"[:500]) from exc


def _frames(image: Image.Image) -> Iterator[PageImage]:
    for index, frame in enumerate(ImageSequence.Iterator(image), 1):
        # Not scaled up: tesseract reads 16-px text fine, and Chinese fails from about 60 px a character.
        prepared = _prepare(ImageOps.exif_transpose(frame) if index == 1 else frame)
        yield PageImage(index, prepared, _dpi(image))


def _prepare(frame: Image.Image) -> Image.Image:
    """Grayscale, with any transparency laid on white (transparent text pixels are often black)."""
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return frame.convert("L")


def _dpi(image: Image.Image) -> int | None:
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        return None
    return value if 70 <= value <= 1200 else None
