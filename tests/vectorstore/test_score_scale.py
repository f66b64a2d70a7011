from __future__ import annotations

import pytest

from vectorstore.score_scale import COSINE_SPANS, similarity_score

pytestmark = pytest.mark.unit


def test_minilm_keeps_its_cosine_clipped_to_0_1() -> None:
    assert [similarity_score(c, "minilm") for c in (-0.2, 0.0, 0.42, 1.0)] == [0.0, 0.0, 0.42, 1.0]


def test_multilingual_cosines_are_spread_onto_the_common_scale() -> None:
    low, high = COSINE_SPANS["multilingual"]
    assert similarity_score(low, "multilingual") == 0.0
    assert similarity_score(high, "multilingual") == pytest.approx(1.0)
    assert similarity_score(0.75, "multilingual") == 0.0  # an unrelated text: e5 cosines sit high
    # The measured medians land where MiniLM's do: off-topic ~0.15, an FAQ heading's answer ~0.79.
    assert similarity_score(0.826, "multilingual") == pytest.approx(0.15, abs=0.01)
    assert similarity_score(0.925, "multilingual") == pytest.approx(0.79, abs=0.01)
