"""Plain documents for the reliability tests: distinct bytes, a known number of chunks each."""

from __future__ import annotations

import random

WORDS = [
    *("river", "stone", "lantern", "harbour", "meadow", "copper", "falcon", "orchard", "signal", "ember"),
    *("glacier", "willow", "compass", "thunder", "pepper", "marble", "canyon", "velvet", "anchor"),
    *("saffron", "beacon", "cobalt", "prairie", "quartz", "tundra"),
]


def notes(count: int, topic: str, paragraphs: int = 1, seed: int = 0) -> list[tuple[str, bytes]]:
    """`count` markdown notes on `topic`; with the default chunking (750 characters) a note of
    `paragraphs` paragraphs of ~600 characters makes `paragraphs` chunks."""
    rng = random.Random(f"{topic}-{seed}")
    docs = []
    for i in range(count):
        body = []
        for p in range(paragraphs):
            words = " ".join(rng.choice(WORDS) for _ in range(80))
            body.append(f"Paragraph {p} of note {i} about {topic}: {words}.")
        text = f"# Note {i} about {topic}\n\n" + "\n\n".join(body) + "\n"
        docs.append((f"{topic}-{i:03d}.md", text.encode()))
    return docs
