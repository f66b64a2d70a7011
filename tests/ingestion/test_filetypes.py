"""File kinds: recognised by extension, confirmed by the first bytes."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.errors import UnsupportedFile
from ingestion.filetypes import SUPPORTED_EXTENSIONS, detect_kind, mime_type
from tests.support.archives import write_docx, write_epub, write_odt, write_pptx, write_xlsx
from tests.support.pdfs import pdf_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("filename", "head", "extension", "family"),
    [
        ("notes.txt", b"plain text\n", ".txt", "text"),
        ("README.markdown", b"# Title\n\nbody", ".md", "text"),
        ("Page.HTM", b"<html><body>hi</body></html>", ".html", "text"),
        ("table.csv", b"a,b\n1,2\n", ".csv", "text"),
        ("bom.txt", "\ufeffhello".encode("utf-8-sig"), ".txt", "text"),
        ("utf16.txt", "\ufeffhello".encode("utf-16-le"), ".txt", "text"),
        ("scan.pdf", pdf_bytes("hello"), ".pdf", "pdf"),
        ("C:\\Users\\ada\\report.PDF", b"  %PDF-1.7\n", ".pdf", "pdf"),
    ],
)
def test_supported_kinds_are_recognised(filename: str, head: bytes, extension: str, family: str) -> None:
    kind = detect_kind(filename, head)
    assert (kind.extension, kind.family) == (extension, family)
    assert kind.mime == mime_type(extension)


def test_a_real_docx_is_confirmed_by_its_zip_container(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "policy.docx")
    kind = detect_kind("policy.docx", path.read_bytes()[:8192], path)
    assert kind.extension == ".docx"
    assert kind.family == "zip"


@pytest.mark.parametrize(
    ("filename", "head"),
    [
        ("report.pdf", b"PK\x03\x04rest of a zip"),
        ("report.pdf", b"<html>not a pdf</html>"),
        ("letter.docx", b"%PDF-1.4\n"),
        ("sheet.xlsx", b"name,price\napple,3\n"),
        ("book.epub", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_extension_and_content_mismatch_is_rejected(filename: str, head: bytes) -> None:
    with pytest.raises(UnsupportedFile) as info:
        detect_kind(filename, head)
    assert info.value.code == "content_mismatch"
    assert filename in info.value.detail


def test_damaged_zip_container_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(write_docx(tmp_path / "good.docx").read_bytes()[:300])

    with pytest.raises(UnsupportedFile, match="damaged zip") as info:
        detect_kind("broken.docx", path.read_bytes(), path)
    assert info.value.code == "content_mismatch"


@pytest.mark.parametrize(
    "head",
    [
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(1, 9)) * 20,  # control bytes, but no NUL
        b"mostly readable text " * 20 + b"\x00",  # a single NUL is enough
    ],
)
def test_binary_data_named_txt_is_rejected(head: bytes) -> None:
    with pytest.raises(UnsupportedFile, match="binary data") as info:
        detect_kind("notes.txt", head)
    assert info.value.code == "content_mismatch"


def test_empty_file_is_rejected() -> None:
    with pytest.raises(UnsupportedFile, match="empty") as info:
        detect_kind("notes.txt", b"")
    assert info.value.code == "empty_file"


@pytest.mark.parametrize(("filename", "shown"), [("setup.exe", "'.exe'"), ("Makefile", "'(none)'")])
def test_unsupported_extension_lists_what_is_supported(filename: str, shown: str) -> None:
    with pytest.raises(UnsupportedFile) as info:
        detect_kind(filename, b"MZ\x90\x00")
    assert info.value.code == "unsupported_file_type"
    assert shown in info.value.detail
    assert all(ext in info.value.detail for ext in SUPPORTED_EXTENSIONS)


def test_mime_type_of_unsupported_extension_is_none() -> None:
    assert mime_type(".md") == mime_type(".MARKDOWN") == "text/markdown"
    assert mime_type(".exe") is None


def write_odt_file(path: Path) -> Path:
    return write_odt(path, "Notes", "A short note.")


PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
BMP_HEAD = b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 20


@pytest.mark.parametrize(
    ("filename", "head", "extension"),
    [
        ("scan.png", PNG_HEAD, ".png"),
        ("photo.JPG", b"\xff\xd8\xff\xe0\x00\x10JFIF", ".jpg"),
        ("photo.jpeg", b"\xff\xd8\xff\xe1\x00\x10Exif", ".jpg"),
        ("fax.tif", b"II*\x00\x08\x00\x00\x00", ".tiff"),
        ("fax.tiff", b"MM\x00*\x00\x00\x00\x08", ".tiff"),
        ("old.bmp", BMP_HEAD, ".bmp"),
    ],
)
def test_images_are_recognised_by_their_signature(filename: str, head: bytes, extension: str) -> None:
    kind = detect_kind(filename, head)
    assert (kind.extension, kind.family) == (extension, "image")
    assert kind.mime.startswith("image/")


@pytest.mark.parametrize(
    ("filename", "head", "shown"),
    [
        ("photo.jpg", PNG_HEAD, "it looks like a PNG image"),
        ("scan.png", b"%PDF-1.7\n", "it looks like a PDF"),
        ("scan.png", b"just some text, not an image", "is not a .png image"),
        ("old.bmp", b"BMW service report\n", "is not a .bmp image"),
        ("fax.tiff", b"\x7fELF\x02\x01", "it looks like an executable"),
    ],
)
def test_an_image_whose_content_does_not_match_is_rejected(filename: str, head: bytes, shown: str) -> None:
    with pytest.raises(UnsupportedFile, match=shown) as info:
        detect_kind(filename, head)
    assert info.value.code == "content_mismatch"


def test_a_zip_container_of_another_kind_is_rejected(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "sheet.xlsx")

    with pytest.raises(UnsupportedFile, match=r"not a \.docx document \(no word/document\.xml\)") as info:
        detect_kind("letter.docx", path.read_bytes()[:8192], path)
    assert info.value.code == "content_mismatch"
    assert detect_kind("sheet.xlsx", path.read_bytes()[:8192], path).extension == ".xlsx"


@pytest.mark.parametrize(
    ("write", "name"),
    [(write_pptx, "deck.pptx"), (write_epub, "book.epub"), (write_odt_file, "notes.odt")],
)
def test_each_zip_kind_is_confirmed_by_its_members(tmp_path: Path, write: Callable[[Path], Path], name: str) -> None:
    path = write(tmp_path / name)
    assert detect_kind(name, path.read_bytes()[:8192], path).extension == Path(name).suffix


def test_a_spreadsheet_named_odt_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "sheet.ods"
    with zipfile.ZipFile(path, "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", "<office:document-content/>")

    with pytest.raises(UnsupportedFile, match="another kind") as info:
        detect_kind("sheet.odt", path.read_bytes(), path)
    assert info.value.code == "content_mismatch"


def test_text_named_pdf_says_what_it_is() -> None:
    with pytest.raises(UnsupportedFile, match=r"does not start like a PDF \(it looks like a zip container\)"):
        detect_kind("report.pdf", b"PK\x03\x04rest")
