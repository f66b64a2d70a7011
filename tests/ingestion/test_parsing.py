"""Parsing real and generated documents into text elements, offline."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingestion.errors import DocumentError
from ingestion.parsing import Element, parse_document
from tests.support.archives import write_docx, write_epub, write_pptx, write_xlsx
from tests.support.pdfs import CORRUPT_PDF, pdf_bytes

pytestmark = pytest.mark.integration


def texts(elements: list[Element]) -> str:
    return "\n".join(e.text for e in elements)


def titles(elements: list[Element]) -> list[str]:
    return [e.text for e in elements if e.category == "Title"]


def test_real_html_page(data_dir: Path) -> None:
    elements = parse_document(data_dir / "python-faq" / "html" / "gui.html", ".html")

    assert "What GUI toolkits exist for Python?¶" in titles(elements)
    assert "object-oriented interface to the Tcl/Tk widget set" in texts(elements)
    assert all(e.text == e.text.strip() and e.text for e in elements)


def test_real_markdown_keeps_its_structure(data_dir: Path) -> None:
    elements = parse_document(data_dir / "formats" / "nodejs-api-http.md", ".md")

    assert titles(elements)[:3] == ["HTTP", "Class: http.Agent", "new Agent([options])"]
    # Read as markdown, not as plain text: no heading keeps its '#', no code fence is a line.
    assert not [t for t in titles(elements) if t.startswith("#")]
    assert not [e for e in elements if e.text.startswith("```")]
    assert {e.metadata.get("filetype") for e in elements} == {"text/markdown"}


def test_real_docx(data_dir: Path) -> None:
    elements = parse_document(data_dir / "formats" / "live-manual.en.docx", ".docx")

    assert "About this manual" in titles(elements)
    assert "live-build" in texts(elements)
    assert len(elements) > 500


def test_real_epub_reads_each_spine_document_once(data_dir: Path) -> None:
    # This book's spine also lists fragments (about-manual.xhtml#o8, ...) of files it already lists.
    elements = parse_document(data_dir / "formats" / "live-manual.en.epub", ".epub")

    assert titles(elements)[:4] == ["Live Systems Manual", "About", "About this manual", "1. About this manual"]
    assert titles(elements).count("1.1 For the impatient") == 1
    assert sum(e.text.startswith("This manual serves as a single access point") for e in elements) == 1


def test_epub_without_package_document_is_a_document_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.epub"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("OEBPS/ch1.xhtml", "<html><body><p>orphan chapter</p></body></html>")

    with pytest.raises(DocumentError, match="the EPUB cannot be read") as info:
        parse_document(path, ".epub")
    assert info.value.code == "parse_error"


@pytest.mark.parametrize(
    ("write", "extension", "expected_title", "expected_text"),
    [
        (write_docx, ".docx", "Returns policy", "Unworn shoes can be returned within 30 days of delivery."),
        (write_pptx, ".pptx", "Quarterly review", "Revenue grew by twelve percent"),
        (write_epub, ".epub", "Lamps", "The keeper trims the wick of the lamp every evening at dusk."),
    ],
)
def test_generated_documents(
    tmp_path: Path, write: Callable[[Path], Path], extension: str, expected_title: str, expected_text: str
) -> None:
    elements = parse_document(write(tmp_path / f"doc{extension}"), extension)

    assert titles(elements)[0] == expected_title
    assert expected_text in texts(elements)


def test_generated_xlsx_is_titled_by_its_sheet_and_reads_row_by_row(tmp_path: Path) -> None:
    elements = parse_document(write_xlsx(tmp_path / "prices.xlsx"), ".xlsx")

    assert [(e.category, e.text) for e in elements] == [
        ("Title", "Prices"),
        ("Table", "item: lantern; price: 12\nitem: compass; price: 30"),
    ]
    assert all(e.metadata["sheet"] == "Prices" for e in elements)


def test_generated_csv_reads_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,city\nAda,London\nLinus,Helsinki\n")

    elements = parse_document(path, ".csv")

    [table] = elements
    assert (table.category, table.text) == ("Table", "name: Ada; city: London\nname: Linus; city: Helsinki")


def test_stored_upload_without_extension_is_parsed_by_the_given_one(tmp_path: Path) -> None:
    # Uploads are stored under their sha256, with no extension.
    path = tmp_path / "3f9a"
    path.write_text("# Setup\n\nInstall the package, then run the server.\n")

    elements = parse_document(path, ".md")

    assert [e.text for e in elements] == ["Setup", "Install the package, then run the server."]
    assert elements[0].category == "Title"


def test_pdf_text_layer_gives_one_element_per_page(tmp_path: Path) -> None:
    path = tmp_path / "warranty.pdf"
    path.write_bytes(pdf_bytes("The warranty lasts two years.", "", "Batteries are not covered."))

    elements = parse_document(path, ".pdf")

    assert [(e.text, e.metadata["page_number"]) for e in elements] == [
        ("The warranty lasts two years.", 1),
        ("Batteries are not covered.", 3),
    ]


def test_corrupt_pdf_is_a_document_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(CORRUPT_PDF)

    with pytest.raises(DocumentError, match="the PDF cannot be read") as info:
        parse_document(path, ".pdf")
    assert info.value.code == "parse_error"


def test_pdf_without_text_is_an_empty_document(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf_bytes("", ""))

    with pytest.raises(DocumentError, match="no text") as info:
        parse_document(path, ".pdf")
    assert info.value.code == "empty_document"


def test_corrupt_docx_is_a_document_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)

    with pytest.raises(DocumentError, match=r"the \.docx file cannot be parsed"):
        parse_document(path, ".docx")


def test_whitespace_only_text_is_an_empty_document(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("   \n\n \t \n")

    with pytest.raises(DocumentError) as info:
        parse_document(path, ".txt")
    assert info.value.code == "empty_document"


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_password_protected_pdf_is_an_encrypted_document(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    path.write_bytes(_encrypted(pdf_bytes("The safe code is written on page two."), "s3cret"))

    with pytest.raises(DocumentError, match="encrypted") as info:
        parse_document(path, ".pdf")
    assert info.value.code == "encrypted_document"


def test_a_pdf_encrypted_without_a_user_password_is_read(tmp_path: Path) -> None:
    # Common for "no copying" PDFs: anyone may open them, so their text is readable.
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_encrypted(pdf_bytes("Printing is allowed, copying is not."), ""))

    assert [e.text for e in parse_document(path, ".pdf")] == ["Printing is allowed, copying is not."]
