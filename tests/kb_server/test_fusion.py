from __future__ import annotations

import pytest

from kb_server.services.search import fusion_weights
from kb_server.settings import SearchSettings

pytestmark = pytest.mark.unit


def test_english_queries_use_the_configured_weights() -> None:
    w = fusion_weights(SearchSettings(dense_weight=0.7), "How do I copy a list?", "minilm")
    assert (w.dense, round(w.keyword, 6)) == (0.7, 0.3)


def test_chinese_queries_lean_on_keywords_when_the_embedder_reads_no_chinese() -> None:
    settings = SearchSettings(dense_weight=0.6, cjk_dense_weight=0.1)
    assert fusion_weights(settings, "大熊猫每天吃多少竹子？", "minilm").dense == 0.1
    assert fusion_weights(settings, "大熊猫每天吃多少竹子？", "bge-small-zh").dense == 0.6
    assert fusion_weights(settings, "What does 熊猫 mean in this English sentence?", "minilm").dense == 0.6
