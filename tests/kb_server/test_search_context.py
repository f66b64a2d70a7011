"""Words a follow-up carries from earlier turns weigh less in keyword search than its own."""

from __future__ import annotations

import pytest

from kb_server.services.search import keyword_terms
from vectorstore.ids import chunk_id
from vectorstore.keyword_blocks import BlockKeywordIndex

pytestmark = pytest.mark.unit

PREVIOUS = ["python", "newsgroup", "mailing", "list"]  # "are there newsgroups or mailing lists about python?"
TEXTS = [
    ["python", "newsgroup", "mailing", "list", "comp", "lang"],
    ["python", "book", "published"],
    ["python", "download", "source"],
    ["python", "windows", "install"],
    ["list", "sort", "python"],
    ["mailing", "archive"],
]


def _index() -> BlockKeywordIndex:
    index = BlockKeywordIndex()
    ids = [chunk_id(1, n) for n in range(len(TEXTS))]
    index.sync(1, {1: 1}, lambda f: (ids, TEXTS))
    return index


def test_own_words_weigh_one_and_carried_ones_share_the_rest() -> None:
    assert keyword_terms(["book"], [], 0.5) == ["book"]
    weights = keyword_terms(["book"], PREVIOUS, 0.5)
    assert weights == {"book": 1.0, "python": 0.25, "newsgroup": 0.25, "mailing": 0.25, "list": 0.25}
    assert keyword_terms(["book", "python"], PREVIOUS, 0.5) == {
        "book": 1.0,
        "python": 1.0,
        "newsgroup": 2 / 3,
        "mailing": 2 / 3,
        "list": 2 / 3,
    }
    # No words of its own: the carried ones alone.
    assert keyword_terms([], PREVIOUS, 0.5) == {"python": 1, "newsgroup": 1, "mailing": 1, "list": 1}


def test_a_one_word_follow_up_is_not_outvoted_by_the_question_before_it() -> None:
    index = _index()
    unweighted = index.search(["book", *PREVIOUS], 3)  # every carried word as one of its own
    weighted = index.search(keyword_terms(["book"], PREVIOUS, 0.5), 3)

    assert unweighted[0][0] == chunk_id(1, 0)  # the previous question's entry again
    assert weighted[0][0] == chunk_id(1, 1)  # the book entry: its own word, with the carried python
