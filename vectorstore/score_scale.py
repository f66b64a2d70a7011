"""Cosine similarity on one 0..1 scale for every bundled embedder.

Models spread their cosines differently: MiniLM gives an unrelated question and an FAQ passage
about 0.15 and a matching one about 0.8, multilingual-e5 gives them about 0.83 and 0.92 (its
vectors all lie in a narrow cone). A threshold on raw cosine would mean something else for each.
So a preset's cosine is mapped linearly onto MiniLM's scale, anchored at two points measured by
`python -m benchmarks.retrieval_presets` on the Python FAQ before this scale existed (dense mode,
best cosine per question, medians; off-topic: tests/fixtures/offtopic_questions.jsonl and the
Chinese questions of tests/fixtures/zh, against the FAQ in their language):

| | off-topic questions | FAQ headings |
|---|---|---|
| MiniLM, English (30 / 174) | 0.151 | 0.793 |
| e5, English (30 / 174) | 0.819 | 0.921 |
| e5, Chinese (20 / 142) | 0.833 | 0.929 |

The e5 anchors are the means of both languages (0.826, 0.925); the line through them and MiniLM's
puts 0 at cosine 0.802 and 1 at 0.957. MiniLM and models not measured keep the cosine itself.
"""

from __future__ import annotations

# preset -> (cosine scored 0, cosine scored 1)
COSINE_SPANS: dict[str, tuple[float, float]] = {"multilingual": (0.802, 0.957)}


def similarity_score(cosine: float, preset: str) -> float:
    """`cosine` of the preset's embeddings as a 0..1 score on the common scale."""
    low, high = COSINE_SPANS.get(preset, (0.0, 1.0))
    return min(max((cosine - low) / (high - low), 0.0), 1.0)
