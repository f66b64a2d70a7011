"""Every supported format parsed from real or generated files: text, tables row by row, locations."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from ingestion.chunking import chunk_elements
from ingestion.errors import DocumentError
from ingestion.filetypes import SNIFF_BYTES, detect_kind
from ingestion.parsing import Element, parse_document
from tests.ingestion.samples import EMAIL, HTML_WITH_TABLE, JSON_DOCUMENT, samples
from tests.support.archives import (
    write_docx_chinese,
    write_docx_with_table,
    write_odt,
    write_pptx_deck,
    write_xlsx_two_sheets,
)
from tests.support.texts import CHINESE_SENTENCES

pytestmark = pytest.mark.integration


def texts(elements: list[Element]) -> str:
    return "\n".join(e.text for e in elements)


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in re.findall(r"[A-Za-z0-9]+", text))


@pytest.fixture(scope="module")
def epub_words(data_dir: Path) -> Counter[str]:
    return words(texts(parse_document(data_dir / "formats" / "live-manual.en.epub", ".epub")))


@pytest.mark.parametrize("name", ["live-manual.en.odt", "live-manual.en.docx", "live-manual.en.html"])
def test_the_same_book_in_each_format_yields_the_epubs_words(
    data_dir: Path, epub_words: Counter[str], name: str
) -> None:
    path = data_dir / "formats" / name
    got = words(texts(parse_document(path, path.suffix)))

    recall = sum(min(n, got[w]) for w, n in epub_words.items()) / sum(epub_words.values())
    assert recall > 0.95, f"{name}: {recall:.3f} of the EPUB's words"


def test_docx_table_rows_keep_their_headers(tmp_path: Path) -> None:
    elements = parse_document(write_docx_with_table(tmp_path / "hours.docx"), ".docx")

    [table] = [e for e in elements if e.category == "Table"]
    assert table.text.splitlines() == [
        "day: Monday; opens: 9:00; closes: 17:00",
        "day: Sunday; opens: 11:00; closes: 16:00",
    ]


def test_html_table_rows_keep_their_headers(tmp_path: Path) -> None:
    path = tmp_path / "tides.html"
    path.write_text(HTML_WITH_TABLE)

    elements = parse_document(path, ".html")

    [table] = [e for e in elements if e.category == "Table"]
    assert table.text.splitlines()[0] == "date: 1 May; high water: 06:12; low water: 12:40"


def test_xlsx_sheets_are_titled_and_located(tmp_path: Path) -> None:
    elements = parse_document(write_xlsx_two_sheets(tmp_path / "office.xlsx"), ".xlsx")

    chunks = chunk_elements(elements, 750, 150)

    assert [(c.meta["sheet"], c.meta["title"]) for c in chunks] == [("Staff", "Staff"), ("Rooms", "Rooms")]
    assert chunks[0].text == (
        "Staff\nname: Ada Lovelace; office: B12; phone: 4411\nname: Alan Turing; office: C3; phone: 4420"
    )
    assert chunks[1].text == "Rooms\nroom: B12; seats: 4\nroom: C3; seats: 12.5"


def test_a_long_table_splits_between_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text("part;bin;count\n" + "".join(f"bolt M{i};A{i % 7};{i * 3}\n" for i in range(1, 200)))

    chunks = chunk_elements(parse_document(path, ".csv"), 300, 0)

    assert len(chunks) > 5
    rows = [line for c in chunks for line in c.text.splitlines()]
    assert rows[:2] == ["part: bolt M1; bin: A1; count: 3", "part: bolt M2; bin: A2; count: 6"]
    assert len(rows) == 199
    assert all(re.fullmatch(r"part: bolt M\d+; bin: A\d; count: \d+", row) for row in rows)


@pytest.mark.parametrize(
    ("content", "extension", "expected"),
    [
        ("city\tcountry\nLisbon\tPortugal\n", ".tsv", "city: Lisbon; country: Portugal"),
        ("3,4\n5,6\n", ".csv", "3 | 4\n5 | 6"),  # no header row
        ("名称,价格\n灯笼,12\n", ".csv", "名称: 灯笼; 价格: 12"),
    ],
)
def test_delimited_text(tmp_path: Path, content: str, extension: str, expected: str) -> None:
    path = tmp_path / f"table{extension}"
    path.write_bytes(content.encode("gb18030" if "名称" in content else "utf-8"))

    assert texts(parse_document(path, extension)) == expected


def test_pptx_slides_are_located_and_each_has_one_heading(tmp_path: Path) -> None:
    elements = parse_document(write_pptx_deck(tmp_path / "review.pptx"), ".pptx")

    assert [(e.category, e.metadata["slide"]) for e in elements if e.category == "Title"] == [
        ("Title", 1),
        ("Title", 2),
        ("Title", 3),
    ]
    chunks = chunk_elements(elements, 750, 0)  # slides are never packed together
    assert [(c.meta["slide"], c.meta["title"]) for c in chunks] == [
        (1, "Quarterly review"),
        (2, "Next steps"),
        (3, "Budget"),
    ]
    assert chunks[2].text == "Budget\nteam: research; budget: 40000\nteam: sales; budget: 25000"


def test_email_keeps_its_subject_and_senders(tmp_path: Path) -> None:
    path = tmp_path / "mail.eml"
    path.write_text(EMAIL)

    elements = parse_document(path, ".eml")

    assert [e.text for e in elements if e.category == "Title"] == ["Boiler service on Thursday"]
    assert "From: Ada <ada@example.org>" in texts(elements)
    assert "service the boiler on Thursday between eight and ten" in texts(elements)


def test_json_values_keep_their_keys(tmp_path: Path) -> None:
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(JSON_DOCUMENT))

    text = texts(parse_document(path, ".json"))

    assert "shop.name: Harbour Lights" in text
    assert "sku: L-100; name: storm lantern; price: 24.5" in text
    assert "tags: nautical; gifts" in text


def test_json_lines_and_invalid_json(tmp_path: Path) -> None:
    lines = tmp_path / "events.json"
    lines.write_text('{"event": "launch", "year": 1969}\n{"event": "landing", "year": 1969}\n')
    assert texts(parse_document(lines, ".json")) == "event: launch; year: 1969\nevent: landing; year: 1969"

    broken = tmp_path / "broken.json"
    broken.write_text('{"event": ')
    with pytest.raises(DocumentError, match="not valid JSON"):
        parse_document(broken, ".json")


def test_generated_odt(tmp_path: Path) -> None:
    path = write_odt(tmp_path / "rules.odt", "Harbour rules", "Boats must be moored by sunset.")

    elements = parse_document(path, ".odt")

    assert [(e.category, e.text) for e in elements] == [
        ("Title", "Harbour rules"),
        ("UncategorizedText", "Boats must be moored by sunset."),
    ]


def test_chinese_docx_comes_back_verbatim_with_its_headings(tmp_path: Path) -> None:
    elements = parse_document(write_docx_chinese(tmp_path / "政策.docx"), ".docx")

    chunks = chunk_elements(elements, 750, 150, cjk_weight=3)

    assert [c.meta.get("title") for c in chunks] == ["退货政策"]
    assert all(sentence in chunks[0].text for sentence in CHINESE_SENTENCES)
    assert chunks[0].text.startswith("退货政策\n商品在签收后")


def test_every_format_parses_from_a_stored_upload_without_extension(tmp_path: Path) -> None:
    # Uploads are stored under their sha256; some readers (openpyxl) insist on an extension.
    for sample in samples(tmp_path):
        stored = tmp_path / f"3f9a{len(sample.name)}"
        stored.write_bytes(sample.data)

        kind = detect_kind(sample.name, sample.data[:SNIFF_BYTES], stored)

        elements = parse_document(stored, kind.extension)

        assert sample.phrase in texts(elements), sample.name
