"""The unit parsers produce and the chunker consumes: a piece of text, its kind and its place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where an element sits in its file, for citations ("p. 12", sheet "Prices", slide 3).
LOCATION_KEYS = ("page_number", "sheet", "slide")
# The metadata a document gives about itself (a LangChain Document's own): copied onto its chunks.
DOCUMENT_METADATA = "document_metadata"


@dataclass(frozen=True)
class Element:
    text: str
    category: str  # "Title" | "Table" | "Text" | unstructured's other categories
    metadata: dict[str, Any] = field(default_factory=dict)

    def location(self) -> dict[str, Any]:
        return {k: self.metadata[k] for k in LOCATION_KEYS if self.metadata.get(k) is not None}

    def chunk_metadata(self) -> dict[str, Any]:
        """What every chunk cut from this element carries: the document's metadata, then its location."""
        return {**self.metadata.get(DOCUMENT_METADATA, {}), **self.location()}
