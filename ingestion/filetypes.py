"""What kb-server can read, recognised by extension and confirmed by the file's first bytes."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingestion.errors import UnsupportedFile


@dataclass(frozen=True)
class FileKind:
    extension: str
    mime: str
    family: str  # "text" | "pdf" | "zip"


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
}

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
        raise UnsupportedFile(f"{filename!r} does not start like a PDF", code="content_mismatch")
    if kind.family == "zip":
        if not head.startswith(b"PK\x03\x04"):
            raise UnsupportedFile(
                f"{filename!r} is not a {suffix} document (not a zip container)", code="content_mismatch"
            )
        if path is not None and not zipfile.is_zipfile(path):
            raise UnsupportedFile(f"{filename!r} is a damaged zip container", code="content_mismatch")
    if kind.family == "text" and _looks_binary(head):
        raise UnsupportedFile(f"{filename!r} is binary data, not {suffix} text", code="content_mismatch")
    return kind


def mime_type(extension: str) -> str | None:
    """The MIME type a file with this extension is read as (None: not supported)."""
    kind = _KINDS.get(extension.lower())
    return kind.mime if kind else None


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > len(head) * 0.05
