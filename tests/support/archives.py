"""Zip containers built in the test: office documents, EPUB and OpenDocument, and zip bombs.

The office files are written with python-docx, openpyxl and python-pptx; the docx-shaped bombs
by hand, since no library would write them.
"""

from __future__ import annotations

import io
import random
import string
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx

from tests.support.texts import CHINESE_SENTENCES


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


# --- docx zips written by hand: the hostile ones no library would write ---------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="word/document.xml"/></Relationships>'
)
W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _paragraph(text: bytes) -> bytes:
    return b"<w:p><w:r><w:t>" + text + b"</w:t></w:r></w:p>"


def _document(body: bytes, prolog: bytes = b"") -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?>' + prolog + b"<w:document " + W + b"><w:body>"
    return head + body + b"</w:body></w:document>"


def docx_bytes(paragraphs: list[str]) -> bytes:
    """A minimal, valid .docx holding the paragraphs."""
    return _docx({"word/document.xml": _document(b"".join(_paragraph(p.encode()) for p in paragraphs))})


def _docx(parts: dict[str, bytes | tuple[int, object]], level: int = 9) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        for name, data in parts.items():
            if isinstance(data, bytes):
                archive.writestr(name, data)
            else:  # (size, block): a large entry streamed from a repeated block
                size, block = data
                assert isinstance(block, bytes)
                with archive.open(name, "w", force_zip64=True) as entry:
                    for _ in range(size // len(block)):
                        entry.write(block)
    return out.getvalue()


def zip_bomb_docx(inflated: int = 1100 << 20) -> bytes:
    """A docx-shaped zip whose document.xml inflates to `inflated` bytes of one repeated byte."""
    return _docx({"word/document.xml": (inflated, b"\x20" * (1 << 20))}, level=1)


def ratio_bomb_docx() -> bytes:
    """Small in total (under the 1 GiB cap) but one entry compresses about 1000:1."""
    return _docx({"word/document.xml": _document(b" " * (64 << 20))})


def xml_bomb_docx() -> bytes:
    """A docx whose document.xml declares nested entities: the "billion laughs"."""
    entities = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)
    ]
    prolog = b"<!DOCTYPE w:document [" + b"".join(entities) + b"]>"
    return _docx({"word/document.xml": _document(_paragraph(b"&lol9;"), prolog)})


def memory_hog_docx(inflated: int = 256 << 20, seed: int = 7) -> bytes:
    """A docx whose document.xml is hundreds of MiB yet passes the archive guard: it compresses
    about 110:1 (under the guard's 200:1) to a few MiB, so only the memory it takes to parse stops it."""
    rng = random.Random(seed)
    unit = b"".join(_paragraph(b"alpha beta gamma delta omega %d" % i) for i in range(250))
    head, tail = _document(b"<!--body-->").split(b"<!--body-->")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            entry.write(head)
            for _ in range(inflated // len(unit)):
                noise = "".join(rng.choice(string.ascii_lowercase) for _ in range(40)).encode()
                entry.write(unit + _paragraph(noise))
            entry.write(tail)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes/readme.txt", "not an office document")
    return out.getvalue()


def forged_size_docx() -> bytes:
    """The ratio bomb with its document.xml sizes rewritten to claim 1,000 bytes: the archive's own
    headers lie, so only counting the bytes as they inflate finds it."""
    data = bytearray(ratio_bomb_docx())
    name = b"word/document.xml"
    for signature, size_at, name_len_at in ((b"PK\x03\x04", 22, 26), (b"PK\x01\x02", 24, 28)):
        at = data.find(signature)
        while at != -1:
            length = int.from_bytes(data[at + name_len_at : at + name_len_at + 2], "little")
            header = 46 if signature == b"PK\x01\x02" else 30
            if bytes(data[at + header : at + header + length]) == name:
                data[at + size_at : at + size_at + 4] = (1000).to_bytes(4, "little")
            at = data.find(signature, at + 4)
    return bytes(data)
