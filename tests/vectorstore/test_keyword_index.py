from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorstore.errors import SegmentCorrupt
from vectorstore.ids import chunk_id
from vectorstore.keyword_index import KeywordIndex, KeywordSegmentStore
from vectorstore.tokenize import tokenize

pytestmark = pytest.mark.unit

FILES = {
    1: ["Owls hunt at night with silent flight.", "Owl feathers are soft."],
    2: ["Bread needs flour, water, salt and yeast.", "Sourdough uses a wild yeast starter."],
    3: ["大熊猫每天吃十二到三十八公斤竹子。"],
}


def _segments(tmp_path: Path) -> KeywordSegmentStore:
    store = KeywordSegmentStore(tmp_path)
    for file_id, texts in FILES.items():
        ids = [chunk_id(file_id, i) for i in range(len(texts))]
        store.write(7, file_id, 1, "auto", ids, [tokenize(t) for t in texts])
    return store


def _loader(store: KeywordSegmentStore):  # type: ignore[no-untyped-def]
    def load(file_id: int) -> tuple[list[int], list[list[str]]]:
        found = store.read(7, file_id, 1, "auto")
        assert found is not None
        return found

    return load


def test_segments_round_trip_as_json_without_pickle(tmp_path: Path) -> None:
    store = _segments(tmp_path)
    ids, tokens = store.read(7, 2, 1, "auto") or ([], [])
    assert ids == [chunk_id(2, 0), chunk_id(2, 1)]
    assert tokens[1] == tokenize(FILES[2][1])
    raw = json.loads(store.path(7, 2, 1).read_text())
    assert raw["tokenizer"] == "auto+chars"
    assert store.read(7, 2, 1, "simple") is None  # made with another tokenizer: re-tokenize instead
    raw["tokenizer"] = "auto"  # a segment from before Han characters were indexed
    store.path(7, 2, 1).write_text(json.dumps(raw))
    assert store.read(7, 2, 1, "auto") is None
    assert store.read(7, 99, 1, "auto") is None
    store.path(7, 1, 1).write_text("{not json")
    with pytest.raises(SegmentCorrupt):
        store.read(7, 1, 1, "auto")


def test_search_ranks_by_bm25_with_scores_in_0_1(tmp_path: Path) -> None:
    index = KeywordIndex()
    index.sync(1, {1: 1, 2: 1, 3: 1}, _loader(_segments(tmp_path)))
    hits = index.search(tokenize("which yeast for sourdough"), 5)
    assert hits[0][0] == chunk_id(2, 1)
    assert all(0 < s <= 1 for _, s in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search(tokenize("熊猫吃什么"), 1)[0][0] == chunk_id(3, 0)
    assert index.search(tokenize("submarine periscope"), 5) == []


def test_a_query_of_mostly_unknown_words_scores_low(tmp_path: Path) -> None:
    index = KeywordIndex()
    index.sync(1, {1: 1, 2: 1, 3: 1}, _loader(_segments(tmp_path)))
    full = index.search(tokenize("owl feathers soft"), 1)[0][1]
    diluted = index.search(tokenize("owl torque gearbox carburettor crankshaft"), 1)[0][1]
    assert diluted < full / 2


def test_deleted_files_leave_the_index_and_new_generations_reload(tmp_path: Path) -> None:
    store = _segments(tmp_path)
    index = KeywordIndex()
    index.sync(1, {1: 1, 2: 1, 3: 1}, _loader(store))
    assert index.size == 5
    index.sync(2, {1: 1, 3: 1}, _loader(store))
    assert index.size == 3
    assert all(cid >> 20 != 2 for cid, _ in index.search(tokenize("yeast bread flour"), 10))
    store.write(7, 1, 1, "auto", [chunk_id(1, 0)], [tokenize("Penguins cannot fly.")])
    index.sync(3, {1: 2, 3: 1}, _loader(store))
    assert index.search(tokenize("penguin"), 1)[0][0] == chunk_id(1, 0)
    assert index.search(tokenize("owl"), 5) == []


def test_scores_for_specific_chunks(tmp_path: Path) -> None:
    index = KeywordIndex()
    index.sync(1, {1: 1, 2: 1}, _loader(_segments(tmp_path)))
    scores = index.scores_for(tokenize("owl flight"), [chunk_id(1, 0), chunk_id(2, 0), chunk_id(9, 0)])
    assert scores[chunk_id(1, 0)] > 0
    assert scores[chunk_id(2, 0)] == 0
    assert chunk_id(9, 0) not in scores
