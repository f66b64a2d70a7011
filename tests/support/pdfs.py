"""PDFs built in the test: text layers written by hand, image-only scans, mixed, encrypted, broken.

pypdf cannot write text, so the text-layer PDFs are assembled here from their object bodies.
"""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfReader, PdfWriter

CORRUPT_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + b"\x00\x17garbage" * 64


def assemble_pdf(objects: list[bytes]) -> bytes:
    """A PDF file of these object bodies, numbered from 1 (the first is the catalog), with its xref and trailer."""
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
    return assemble_pdf(objects)


def image_pdf(images: list[Image.Image], dpi: int = 300) -> bytes:
    """An image-only PDF: one page per image, no text layer at all."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def mixed_pdf(text_pages: list[str], scan: Image.Image, scan_at: int) -> bytes:
    """Text-layer pages with one scanned page inserted at index `scan_at`."""
    writer = PdfWriter()
    text = PdfReader(io.BytesIO(pdf_bytes(*text_pages)))
    scanned = PdfReader(io.BytesIO(image_pdf([scan])))
    pages = list(text.pages)
    pages.insert(scan_at, scanned.pages[0])
    for page in pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_garbled_text_layer(scan_pdf: bytes) -> bytes:
    """The scan's first page with an invisible text layer that maps every glyph to private use."""
    diffs = " ".join(f"/uniE{i:03X}" for i in range(26))
    content = b"BT /F1 12 Tf 3 Tr 72 720 Td (" + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ " * 4 + b") Tj ET"
    layer = assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
            b"/Encoding << /Type /Encoding /Differences [65 %s] >> >>" % diffs.encode(),
        ]
    )
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(scan_pdf)).pages[0])
    writer.pages[0].merge_page(PdfReader(io.BytesIO(layer)).pages[0])
    merged = io.BytesIO()
    writer.write(merged)
    return merged.getvalue()


def encrypted_pdf(text: str = "A secret text that needs a password") -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password="open sesame", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated_pdf() -> bytes:
    """The first 60 bytes of a PDF: a header and the start of an object, nothing readable."""
    return pdf_bytes("This text is cut off before the end of the file")[:60]
