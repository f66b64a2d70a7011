"""Malformed and hostile documents, built in memory: bombs, encrypted and truncated PDFs, binary text."""

from __future__ import annotations

import io
import random
import string
import zipfile

from pypdf import PdfWriter

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


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF with a text layer (pypdf cannot write text, so the content stream is ours)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypted_pdf(text: str = "A secret text that needs a password") -> bytes:
    from pypdf import PdfReader

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_with_text(text))))
    writer.encrypt(user_password="open sesame", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated_pdf() -> bytes:
    """The first 60 bytes of a PDF: a header and the start of an object, nothing readable."""
    return pdf_with_text("This text is cut off before the end of the file")[:60]


def binary_noise(size: int = 4096, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


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
