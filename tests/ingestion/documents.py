"""Small documents of each format, generated in the test instead of stored in the repository."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx


def write_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Returns policy", level=1)
    document.add_paragraph("Unworn shoes can be returned within 30 days of delivery.")
    document.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Prices"
    sheet.append(["item", "price"])
    sheet.append(["lantern", 12])
    sheet.append(["compass", 30])
    workbook.save(path)
    return path


def write_pptx(path: Path) -> Path:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly review"
    slide.placeholders[1].text = "Revenue grew by twelve percent"
    deck.save(str(path))
    return path


def write_epub(path: Path) -> Path:
    container = (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Lighthouse Handbook</dc:title>'
        '<dc:identifier id="id">urn:uuid:0</dc:identifier><dc:language>en</dc:language></metadata>'
        '<manifest><item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/></manifest>'
        '<spine toc="ncx"><itemref idref="ch1"/></spine></package>'
    )
    ncx = (
        '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><head/>'
        "<docTitle><text>Lighthouse Handbook</text></docTitle><navMap>"
        '<navPoint id="n1" playOrder="1"><navLabel><text>Lamps</text></navLabel><content src="ch1.xhtml"/>'
        "</navPoint></navMap></ncx>"
    )
    chapter = (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Lamps</title>'
        "</head><body><h1>Lamps</h1><p>The keeper trims the wick of the lamp every evening at dusk.</p></body></html>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/container.xml", container)
        book.writestr("OEBPS/content.opf", opf)
        book.writestr("OEBPS/toc.ncx", ncx)
        book.writestr("OEBPS/ch1.xhtml", chapter)
    return path


def pdf_bytes(*pages: str) -> bytes:
    """A PDF with one Helvetica text line per page (ASCII without parentheses or backslashes)."""
    count = len(pages)
    font = 3 + 2 * count
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


CORRUPT_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + b"\x00\x17garbage" * 64


# --- Formats of issue 5: tables, Chinese, slides, e-mail, JSON, OpenDocument -------------------

CHINESE_SENTENCES = [
    "商品在签收后三十天内可以无理由退货。",
    "请保留原始包装和购物小票，以便我们尽快处理退款。",
    "我们向全国所有省份配送，偏远地区可能需要额外的两到三天。",
]


def write_docx_with_table(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Opening hours", level=1)
    document.add_paragraph("The museum opens every day except public holidays.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["day", "opens", "closes"], ["Monday", "9:00", "17:00"], ["Sunday", "11:00", "16:00"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(str(path))
    return path


def write_docx_chinese(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("退货政策", level=1)
    document.add_paragraph("".join(CHINESE_SENTENCES[:2]))
    document.add_heading("配送说明", level=1)
    document.add_paragraph(CHINESE_SENTENCES[2])
    document.save(str(path))
    return path


def write_xlsx_two_sheets(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Staff"
    for row in [["name", "office", "phone"], ["Ada Lovelace", "B12", "4411"], ["Alan Turing", "C3", "4420"]]:
        first.append(row)
    second = workbook.create_sheet("Rooms")
    rooms: list[list[object]] = [["room", "seats"], ["B12", 4], ["C3", 12.5]]
    for room in rooms:
        second.append(room)
    workbook.save(path)
    return path


def write_pptx_deck(path: Path) -> Path:
    deck = pptx.Presentation()
    for heading, body in [("Quarterly review", "Revenue grew by twelve percent"), ("Next steps", "Hire two engineers")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = heading
        slide.placeholders[1].text = body
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Budget"
    rows = [["team", "budget"], ["research", "40000"], ["sales", "25000"]]
    table = slide.shapes.add_table(
        3, 2, pptx.util.Inches(1), pptx.util.Inches(2), pptx.util.Inches(6), pptx.util.Inches(2)
    )
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.table.cell(r, c).text = value
    deck.save(str(path))
    return path


def write_odt(path: Path, title: str, paragraph: str) -> Path:
    """A minimal OpenDocument text file: one heading and one paragraph."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        f'<office:body><office:text><text:h text:outline-level="1">{title}</text:h>'
        f"<text:p>{paragraph}</text:p></office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as odt:
        odt.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        odt.writestr("content.xml", content)
        odt.writestr(
            "styles.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {ns} office:version="1.2">'
            "<office:styles/></office:document-styles>",
        )
        odt.writestr("META-INF/manifest.xml", manifest)
    return path


HTML_WITH_TABLE = (
    "<html><head><title>Tides</title></head><body><h1>Tide table</h1><p>High and low water at the harbour.</p>"
    "<table><tr><th>date</th><th>high water</th><th>low water</th></tr>"
    "<tr><td>1 May</td><td>06:12</td><td>12:40</td></tr><tr><td>2 May</td><td>06:58</td><td>13:25</td></tr>"
    "</table></body></html>"
)

EMAIL = (
    "From: Ada <ada@example.org>\nTo: bob@example.org\nSubject: Boiler service on Thursday\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    "Hi Bob,\n\nThe engineer will service the boiler on Thursday between eight and ten in the morning.\n"
    "Please leave the cellar door unlocked.\n\nAda\n"
)

JSON_DOCUMENT = {
    "shop": {"name": "Harbour Lights", "city": "Falmouth"},
    "products": [
        {"sku": "L-100", "name": "storm lantern", "price": 24.5},
        {"sku": "C-200", "name": "brass compass", "price": 38},
    ],
    "tags": ["nautical", "gifts"],
}
