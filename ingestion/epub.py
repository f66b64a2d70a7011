"""EPUB chapters in reading order, for parsing one by one as HTML.

unstructured hands EPUB to pandoc, which rejects real-world books whose table of contents links
into fragments (`No entry on path: OEBPS/x.xhtml#o8`). An EPUB is a zip of XHTML files listed by
the OPF package document's spine; reading that directly is simpler and fails on nothing but
broken containers.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from ingestion.errors import DocumentError

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
}
# No entity expansion, no network, no DTDs: XML from an upload is hostile until proven otherwise.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
MAX_CHAPTER_BYTES = 20 * 1024 * 1024


def epub_chapters(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (name, xhtml bytes) of each spine document.

    Raises:
        DocumentError: not a readable EPUB.
    """
    try:
        with zipfile.ZipFile(path) as book:
            container = etree.fromstring(book.read("META-INF/container.xml"), _PARSER)
            rootfiles = container.xpath("//c:rootfile/@full-path", namespaces=_NS)
            if not rootfiles:
                raise DocumentError("the EPUB has no package document", code="parse_error")
            opf_path = str(rootfiles[0])
            opf = etree.fromstring(book.read(opf_path), _PARSER)
            base = posixpath.dirname(opf_path)
            manifest = {
                item.get("id"): item.get("href") for item in opf.xpath("//opf:manifest/opf:item", namespaces=_NS)
            }
            seen: set[str] = set()
            for ref in opf.xpath("//opf:spine/opf:itemref/@idref", namespaces=_NS):
                href = manifest.get(str(ref))
                if not href:
                    continue
                name = posixpath.normpath(posixpath.join(base, href.split("#", 1)[0]))
                if name in seen:  # spine entries that point into a fragment of a file already read
                    continue
                seen.add(name)
                info = book.getinfo(name)
                if info.file_size > MAX_CHAPTER_BYTES:
                    raise DocumentError(f"EPUB chapter {name} is larger than {MAX_CHAPTER_BYTES} bytes")
                yield name, book.read(info)
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise DocumentError(f"the EPUB cannot be read: {type(exc).__name__}: {exc}") from exc
