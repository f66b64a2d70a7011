"""What kb-server can read, recognised by extension and confirmed by the file's content.

The first bytes must match the extension's family: `%PDF` for a PDF, an image format's signature
for an image, a zip header for office documents and EPUB (and, given the file, the members that
kind of container must hold), readable text for text formats.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingestion.errors import UnsupportedFile


@dataclass(frozen=True)
class FileKind:
    extension: str
    mime: str
    family: str  # "text" | "pdf" | "zip" | "image"


_KINDS = {
    ".txt": FileKind(".txt", "text/plain", "text"),
    ".md": FileKind(".md", "text/markdown", "text"),
    ".markdown": FileKind(".md", "text/markdown", "text"),
    ".html": FileKind(".html", "text/html", "text"),
    ".htm": FileKind(".html", "text/html", "text"),
    ".csv": FileKind(".csv", "text/csv", "text"),
    ".tsv": FileKind(".tsv", "text/tab-separated-values", "text"),
    ".json": FileKind(".json", "application/json", "text"),
    ".eml": FileKind(".eml", "message/rfc822", "text"),
    ".pdf": FileKind(".pdf", "application/pdf", "pdf"),
    ".docx": FileKind(".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "zip"),
    ".xlsx": FileKind(".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "zip"),
    ".pptx": FileKind(".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "zip"),
    ".epub": FileKind(".epub", "application/epub+zip", "zip"),
    ".odt": FileKind(".odt", "application/vnd.oasis.opendocument.text", "zip"),
    ".png": FileKind(".png", "image/png", "image"),
    ".jpg": FileKind(".jpg", "image/jpeg", "image"),
    ".jpeg": FileKind(".jpg", "image/jpeg", "image"),
    ".tif": FileKind(".tiff", "image/tiff", "image"),
    ".tiff": FileKind(".tiff", "image/tiff", "image"),
    ".bmp": FileKind(".bmp", "image/bmp", "image"),
}

# Signatures: of the image formats (with the extension they confirm), and of other things an
# upload may turn out to be, named in the rejection.
_SIGNATURES: tuple[tuple[bytes, str | None, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png", "a PNG image"),
    (b"\xff\xd8\xff", ".jpg", "a JPEG image"),
    (b"II*\x00", ".tiff", "a TIFF image"),
    (b"MM\x00*", ".tiff", "a TIFF image"),
    (b"II+\x00", ".tiff", "a TIFF image"),  # BigTIFF
    (b"MM\x00+", ".tiff", "a TIFF image"),
    (b"%PDF", None, "a PDF"),
    (b"PK\x03\x04", None, "a zip container"),
    (b"GIF8", None, "a GIF image"),
    (b"RIFF", None, "a RIFF file (WebP, WAV, AVI)"),
    (b"\x7fELF", None, "an executable"),
    (b"MZ", None, "an executable"),
    (b"\x1f\x8b", None, "gzip data"),
)
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)
# Members each zip-based kind must hold.
_ZIP_MEMBERS = {
    ".docx": "word/document.xml",
    ".xlsx": "xl/workbook.xml",
    ".pptx": "ppt/presentation.xml",
    ".epub": "META-INF/container.xml",
    ".odt": "content.xml",
}
_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"

SUPPORTED_EXTENSIONS = tuple(sorted(_KINDS))
SNIFF_BYTES = 8192


def detect_kind(filename: str, head: bytes, path: Path | None = None) -> FileKind:
    """The kind of an upload, from its name and confirmed by its content.

    Raises:
        UnsupportedFile: unknown extension, or content that does not match it.
    """
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    kind = _KINDS.get(suffix)
    if kind is None:
        raise UnsupportedFile(
            f"{filename!r}: file type {suffix or '(none)'!r} is not supported; supported: "
            + ", ".join(SUPPORTED_EXTENSIONS)
        )
    if not head:
        raise UnsupportedFile(f"{filename!r} is empty", code="empty_file")
    if kind.family == "pdf" and not head.lstrip()[:5].startswith(b"%PDF"):
        raise UnsupportedFile(f"{filename!r} does not start like a PDF{_seems(head)}", code="content_mismatch")
    if kind.family == "image" and _image_extension(head) != kind.extension:
        raise UnsupportedFile(f"{filename!r} is not a {suffix} image{_seems(head)}", code="content_mismatch")
    if kind.family == "zip":
        if not head.startswith(b"PK\x03\x04"):
            raise UnsupportedFile(
                f"{filename!r} is not a {suffix} document: not a zip container{_seems(head)}",
                code="content_mismatch",
            )
        if path is not None:
            _check_container(filename, kind, path)
    if kind.family == "text" and _looks_binary(head):
        raise UnsupportedFile(f"{filename!r} is binary data, not {suffix} text{_seems(head)}", code="content_mismatch")
    return kind


def kind_of(extension: str) -> FileKind | None:
    """The kind files with this extension are read as (None: not supported)."""
    return _KINDS.get(extension.lower())


def mime_type(extension: str) -> str | None:
    """The MIME type a file with this extension is read as (None: not supported)."""
    kind = _KINDS.get(extension.lower())
    return kind.mime if kind else None


def _check_container(filename: str, kind: FileKind, path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as container:
            names = set(container.namelist())
            member = _ZIP_MEMBERS[kind.extension]
            if member not in names:
                raise UnsupportedFile(
                    f"{filename!r} is a zip container but not a {kind.extension} document (no {member})",
                    code="content_mismatch",
                )
            if kind.extension == ".odt" and "mimetype" in names and container.read("mimetype").strip() != _ODT_MIMETYPE:
                raise UnsupportedFile(
                    f"{filename!r} is an OpenDocument file of another kind, not a text document",
                    code="content_mismatch",
                )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnsupportedFile(f"{filename!r} is a damaged zip container", code="content_mismatch") from exc


def _image_extension(head: bytes) -> str | None:
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return ".bmp"
    return next((ext for magic, ext, _ in _SIGNATURES if ext and head.startswith(magic)), None)


def _seems(head: bytes) -> str:
    """ " (it looks like a PNG image)" when the content is something recognisable."""
    if _image_extension(head) == ".bmp":
        return " (it looks like a BMP image)"
    label = next((label for magic, _, label in _SIGNATURES if head.lstrip().startswith(magic)), None)
    return f" (it looks like {label})" if label else ""


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > len(head) * 0.05
