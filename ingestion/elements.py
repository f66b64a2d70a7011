"""The unit parsers produce and the chunker consumes: a piece of text, its kind and its place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where an element sits in its file, for citations ("p. 12", sheet "Prices", slide 3).
LOCATION_KEYS = ("page_number", "sheet", "slide")


@dataclass(frozen=True)
class Element:
    text: str
    category: str  # "Title" | "Table" | "Text" | unstructured's other categories
    metadata: dict[str, Any] = field(default_factory=dict)

    def location(self) -> dict[str, Any]:
        return {k: self.metadata[k] for k in LOCATION_KEYS if self.metadata.get(k) is not None}
