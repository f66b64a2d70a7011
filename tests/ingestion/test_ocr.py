"""OCR of images and of PDF pages without a usable text layer, with real tesseract."""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ingestion.errors import DocumentError
from ingestion.ocr import Tesseract, clean_ocr_text
from ingestion.parsing import Element, parse_document
from ingestion.pdf import garbled, needs_ocr
from ingestion.settings import IngestionSettings
from tests.support.images import page_images, text_image
from tests.support.pdfs import image_pdf, mixed_pdf, with_garbled_text_layer
from tests.support.texts import CHINESE_SENTENCES

ENGLISH = [
    "The lighthouse keeper trims the wick every evening at dusk.",
    "Spare lamps are stored in the cellar behind the oil barrels.",
]
SETTINGS = IngestionSettings()


def texts(elements: list[Element]) -> str:
    return "\n".join(e.text for e in elements)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files go here during the test, so leftovers can be seen."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


# --- deciding which pages need OCR (no tesseract) ------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ("", True),
        ("   \n ", True),
        ("12", True),  # a page number only: a scan
        ("A full page of text. " * 10, False),
        ("".join(CHINESE_SENTENCES), False),
        ("\ue000\ue001\ue002 " * 40, True),  # private-use glyphs
        ("\ufffd" * 30 + " Some words" * 10, True),
        ("Mostly fine text with one odd glyph \ufffd here and there. " * 5, False),
    ],
)
def test_pages_needing_ocr(layer: str, expected: bool) -> None:
    assert needs_ocr(layer, 50) is expected


@pytest.mark.unit
def test_garbled_is_about_shares() -> None:
    assert garbled("\x01\x02\x03abc")
    assert not garbled("abcdefghij\x01")


@pytest.mark.unit
def test_ocr_output_is_joined_into_paragraphs() -> None:
    raw = "The keeper trims the\nwick every eve-\nning at dusk.\n\n退货政策：商品在签收后\n三 十 天 内可以退货。\n\f"

    assert (
        clean_ocr_text(raw)
        == "The keeper trims the wick every evening at dusk.\n\n退货政策：商品在签收后三十天内可以退货。"
    )


# --- images --------------------------------------------------------------------------------------


def save(image: Image.Image, path: Path, **options: Any) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.integration
@pytest.mark.parametrize(("extension", "fmt"), [(".png", "PNG"), (".jpg", "JPEG"), (".bmp", "BMP")])
def test_english_image_is_read_exactly(tmp_path: Path, extension: str, fmt: str) -> None:
    path = save(text_image(ENGLISH).convert("RGB"), tmp_path / "stored-upload", format=fmt)

    elements = parse_document(path, extension, SETTINGS)

    assert texts(elements) == "\n\n".join(ENGLISH)
    assert all("page_number" not in e.metadata for e in elements)


@pytest.mark.integration
def test_each_frame_of_a_tiff_is_a_page(tmp_path: Path) -> None:
    frames = [text_image([ENGLISH[0]]), text_image([ENGLISH[1]])]
    path = tmp_path / "fax.tiff"
    frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:])
    seen: list[tuple[int, int]] = []

    elements = parse_document(path, ".tiff", SETTINGS, progress=lambda done, total: seen.append((done, total)))

    assert [(e.metadata["page_number"], e.text) for e in elements] == [(1, ENGLISH[0]), (2, ENGLISH[1])]
    assert seen == [(1, 2), (2, 2)]


@pytest.mark.integration
def test_transparent_png_is_read_on_white(tmp_path: Path) -> None:
    mask = text_image([ENGLISH[0]])
    image = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    image.putalpha(mask.point(lambda v: 255 - v))  # black text, transparent background

    elements = parse_document(save(image, tmp_path / "logo.png"), ".png", SETTINGS)

    assert texts(elements) == ENGLISH[0]


@pytest.mark.integration
def test_chinese_image_comes_back_verbatim(tmp_path: Path) -> None:
    path = save(text_image(CHINESE_SENTENCES, size=30), tmp_path / "notice.png")

    text = texts(parse_document(path, ".png", SETTINGS))

    for sentence in CHINESE_SENTENCES:
        assert sentence in text


@pytest.mark.integration
def test_broken_and_oversized_images_are_document_errors(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(save(text_image(ENGLISH), tmp_path / "ok.png").read_bytes()[:300])
    with pytest.raises(DocumentError, match="cannot be"):
        parse_document(truncated, ".png", SETTINGS)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"  # a header claiming 40000 x 40000 pixels
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 1, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(DocumentError) as info:
        parse_document(bomb, ".png", SETTINGS)
    assert info.value.code == "image_too_large"


# --- PDFs ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_scanned_pdf_is_read_page_by_page_and_cleans_up(tmp_path: Path, private_tmp: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_pdf([text_image([line], size=40, width=2000) for line in ENGLISH], dpi=200))
    seen: list[tuple[int, int]] = []

    elements = parse_document(path, ".pdf", SETTINGS, progress=lambda done, total: seen.append((done, total)))

    assert [(e.metadata["page_number"], e.text) for e in elements] == [(1, ENGLISH[0]), (2, ENGLISH[1])]
    assert all(e.metadata["ocr"] for e in elements)
    assert sorted(seen) == [(1, 2), (2, 2)]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.integration
def test_a_mixed_pdf_is_ocrd_only_where_the_text_layer_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    text_pages = [
        "The warranty lasts two years from the date of purchase shown on the receipt.",
        "Batteries and cables are not covered by the warranty, nor is damage by water.",
    ]
    path.write_bytes(mixed_pdf(text_pages, text_image(ENGLISH, size=40, width=2000), scan_at=1))
    seen: list[tuple[int, int]] = []

    elements = parse_document(path, ".pdf", SETTINGS, progress=lambda done, total: seen.append((done, total)))

    assert [(e.metadata["page_number"], e.metadata.get("ocr", False)) for e in elements] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert [e.text for e in elements] == [text_pages[0], "\n\n".join(ENGLISH), text_pages[1]]
    assert seen == [(1, 1)]


@pytest.mark.integration
def test_a_garbled_text_layer_is_replaced_by_ocr(tmp_path: Path) -> None:
    scan = image_pdf([text_image(ENGLISH, size=40, width=2000)], dpi=200)
    path = tmp_path / "garbled.pdf"
    path.write_bytes(with_garbled_text_layer(scan))

    elements = parse_document(path, ".pdf", SETTINGS)

    assert texts(elements) == "\n\n".join(ENGLISH)


@pytest.mark.integration
def test_chinese_scan_comes_back_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_pdf(page_images(["退货与配送", *CHINESE_SENTENCES], dpi=300, points=12), dpi=300))

    text = texts(parse_document(path, ".pdf", SETTINGS))

    for sentence in CHINESE_SENTENCES:
        assert sentence in text


@pytest.mark.integration
def test_without_ocr_a_scan_is_empty_and_an_image_refused(tmp_path: Path) -> None:
    off = IngestionSettings(ocr_enabled=False)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(image_pdf([text_image(ENGLISH)]))
    with pytest.raises(DocumentError, match="OCR is disabled") as info:
        parse_document(pdf, ".pdf", off)
    assert info.value.code == "empty_document"

    png = save(text_image(ENGLISH), tmp_path / "scan.png")
    with pytest.raises(DocumentError) as info:
        parse_document(png, ".png", off)
    assert info.value.code == "ocr_disabled"


@pytest.mark.integration
def test_missing_tesseract_or_language_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = save(text_image(ENGLISH), tmp_path / "scan.png")
    with pytest.raises(DocumentError, match="no data for klingon") as info:
        parse_document(png, ".png", IngestionSettings(ocr_languages="eng+klingon"))
    assert info.value.code == "ocr_unavailable"

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DocumentError, match="tesseract is not installed") as info:
        parse_document(png, ".png", SETTINGS)
    assert info.value.code == "ocr_unavailable"


@pytest.mark.integration
def test_an_interrupted_ocr_run_leaves_no_process_and_no_file(tmp_path: Path, private_tmp: Path) -> None:
    path = tmp_path / "long-scan.pdf"
    path.write_bytes(image_pdf([text_image(ENGLISH, size=40, width=2000)] * 6, dpi=200))

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt  # as a soft time limit would, from the progress report

    with pytest.raises(KeyboardInterrupt):
        parse_document(path, ".pdf", IngestionSettings(ocr_workers=2), progress=stop)

    assert list(private_tmp.iterdir()) == []
    assert _tesseract_children() == []


def _tesseract_children() -> list[int]:
    children = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    alive = []
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        if "tesseract" in status.splitlines()[0] and "State:\tZ" not in status:
            alive.append(pid)
    return alive


@pytest.mark.integration
def test_a_page_ocr_cannot_read_is_skipped_unless_all_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_pdf([text_image([line], size=40, width=2000) for line in ENGLISH], dpi=200))

    with pytest.raises(DocumentError, match="longer than") as info:
        parse_document(path, ".pdf", IngestionSettings(ocr_page_timeout_s=0.001))
    assert info.value.code == "ocr_timeout"

    read = Tesseract.read

    def fail_on_page_one(self: Tesseract, image_path: Path, dpi: int | None) -> str:
        if image_path.name == "page-1.png":
            raise DocumentError("tesseract failed: simulated", code="ocr_failed")
        return read(self, image_path, dpi)

    monkeypatch.setattr(Tesseract, "read", fail_on_page_one)
    elements = parse_document(path, ".pdf", SETTINGS)
    assert [(e.metadata["page_number"], e.text) for e in elements] == [(2, ENGLISH[1])]
