"""Refuse hostile containers before any parser opens them.

docx, xlsx, pptx, odt and epub are zip files of XML. A zip bomb (a small file that inflates to
gigabytes) or an XML entity bomb ("billion laughs") would otherwise exhaust the worker's memory
inside a third-party parser. The checks: the number of entries, the declared sizes and
compression ratios, the real inflated size (entries are inflated in a stream and counted, since
declared sizes can lie), and no entity declarations in any XML part (office formats never
legitimately declare entities).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import DocumentError

_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_XML_SUFFIXES = (".xml", ".rels", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg")
_READ_BLOCK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 10_000
    max_total_bytes: int = 1 << 30  # inflated
    max_ratio: float = 200.0  # per entry, for entries over 1 MiB inflated


def check_archive(path: Path, limits: ArchiveLimits) -> None:
    """Raises: DocumentError (code `zip_bomb` or `xml_entities`) for a hostile container."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > limits.max_entries:
                raise DocumentError(
                    f"the archive holds {len(entries)} entries (limit {limits.max_entries})", code="zip_bomb"
                )
            declared = sum(e.file_size for e in entries)
            if declared > limits.max_total_bytes:
                raise DocumentError(
                    f"the archive declares {declared} bytes uncompressed (limit {limits.max_total_bytes})",
                    code="zip_bomb",
                )
            inflated = 0
            for entry in entries:
                ratio = entry.file_size / max(entry.compress_size, 1)
                if entry.file_size > 1 << 20 and ratio > limits.max_ratio:
                    raise DocumentError(
                        f"archive entry {entry.filename!r} compresses {ratio:.0f}:1 (limit {limits.max_ratio:.0f}:1)",
                        code="zip_bomb",
                    )
                inflated += _inflate(archive, entry, limits.max_total_bytes - inflated)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
        raise DocumentError(f"the archive cannot be read: {type(exc).__name__}: {exc}", code="parse_error") from exc


def _inflate(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int) -> int:
    """Inflate one entry, counting bytes; XML parts are scanned for entity declarations."""
    is_xml = entry.filename.lower().endswith(_XML_SUFFIXES)
    size = 0
    tail = b""
    with archive.open(entry) as stream:
        while block := stream.read(_READ_BLOCK):
            size += len(block)
            if size > budget:
                raise DocumentError("the archive inflates past the size limit", code="zip_bomb")
            if size > entry.file_size + _READ_BLOCK:
                raise DocumentError(
                    f"archive entry {entry.filename!r} inflates past its declared size", code="zip_bomb"
                )
            if is_xml:
                if _ENTITY.search(tail + block):
                    raise DocumentError(
                        f"{entry.filename!r} declares XML entities, which documents do not need (entity bomb?)",
                        code="xml_entities",
                    )
                tail = block[-16:]
    return size
