"""Tables (csv, tsv, xlsx sheets, HTML / DOCX / ODT / PPTX tables) to rows that read on their own.

A flattened table ("item price lantern 12 compass 30") loses which value belongs to which column,
and a chunk cut from its middle has no header at all. Each row is written as one line,
"item: lantern; price: 12", so every chunk of a table — split only between rows — still says what
each value is. Tables without a recognisable header row keep their cells, joined by " | ".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
from lxml import html as lxml_html

from ingestion.elements import Element
from ingestion.errors import DocumentError

_ENCODINGS = ("utf-8-sig", "utf-16", "gb18030")
MAX_CELL_CHARS = 10_000


def rows_to_lines(rows: list[list[str]], *, header: bool | None = None) -> list[str]:
    """Rows as "header: value; header: value" lines.

    The first row is the header if `header` is true, or (None) when it looks like one: no numbers,
    at least half its cells filled.
    """
    rows = [_trimmed([cell.strip() for cell in row]) for row in rows]
    rows = [row for row in rows if row]
    if not rows:
        return []
    body = rows[1:]
    if not body or not (header if header is not None else _looks_like_header(rows[0])):
        return [" | ".join(cell for cell in row if cell) for row in rows]
    names = [name or f"column {i}" for i, name in enumerate(rows[0], 1)]
    lines = []
    for row in body:
        pairs = [f"{names[i]}: {cell}" if i < len(names) else cell for i, cell in enumerate(row) if cell]
        lines.append("; ".join(pairs))
    return lines


def _trimmed(row: list[str]) -> list[str]:
    while row and not row[-1]:
        row.pop()
    return row


def _looks_like_header(row: list[str]) -> bool:
    filled = [cell for cell in row if cell]
    return len(filled) >= max(1, len(row) // 2) and not any(_is_number(cell) for cell in filled)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("%", ""))
    except ValueError:
        return False
    return True


def html_table_lines(table_html: str) -> list[str]:
    """The rows of an HTML table (unstructured's `text_as_html`) as lines."""
    try:
        root = lxml_html.fromstring(table_html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return []
    rows, header = [], None
    for tr in root.iter("tr"):
        cells = [cell for cell in tr if cell.tag in ("td", "th")]
        if header is None and cells:
            header = True if all(cell.tag == "th" for cell in cells) else None
        rows.append([" ".join(cell.text_content().split()) for cell in cells])
    return rows_to_lines(rows, header=header)


def parse_delimited(path: Path, extension: str, mime: str) -> list[Element]:
    """A csv or tsv file as one Table element of row lines.

    Raises:
        DocumentError: undecodable text or a malformed file.
    """
    text = _decode(path.read_bytes())
    if extension == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = [row[:1000] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:
        raise DocumentError(f"the {extension} file cannot be parsed: {exc}"[:500]) from exc
    lines = rows_to_lines([[cell[:MAX_CELL_CHARS] for cell in row] for row in rows])
    return [Element("\n".join(lines), "Table", {"filetype": mime})] if lines else []


def _decode(data: bytes) -> str:
    for encoding in _ENCODINGS:
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_xlsx(path: Path, mime: str) -> list[Element]:
    """Each sheet as a Title (its name) and a Table of row lines, both with `sheet` metadata.

    Raises:
        DocumentError: not a readable workbook.
    """
    elements = []
    # A file object: openpyxl refuses paths without an .xlsx extension, and uploads have none.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for broken workbooks
            raise DocumentError(f"the .xlsx file cannot be parsed: {type(exc).__name__}: {exc}"[:500]) from exc
        try:
            for sheet in workbook.worksheets:
                rows = [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
                lines = rows_to_lines(rows)
                if lines:
                    meta = {"filetype": mime, "sheet": sheet.title}
                    elements.append(Element(sheet.title, "Title", dict(meta)))
                    elements.append(Element("\n".join(lines), "Table", dict(meta)))
        finally:
            workbook.close()
    return elements


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)[:MAX_CELL_CHARS]
