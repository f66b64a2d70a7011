"""BlockKeywordIndex: the scores of KeywordIndex, with updates that cost the changed files only."""

from __future__ import annotations

import random

import pytest

from vectorstore.ids import chunk_id
from vectorstore.keyword_blocks import BlockKeywordIndex
from vectorstore.keyword_index import KeywordIndex

WORDS = [f"w{i}" for i in range(300)]


def corpus(files: range, seed: int = 0, per_file: int = 12) -> dict[int, tuple[list[int], list[list[str]]]]:
    rng = random.Random(seed)
    out = {}
    for file_id in files:
        tokens = [rng.choices(WORDS[: 40 + file_id * 3], k=rng.randint(3, 60)) for _ in range(per_file)]
        out[file_id] = ([chunk_id(file_id, i) for i in range(per_file)], tokens)
    return out


def same_results(blocks: BlockKeywordIndex, reference: KeywordIndex, queries: list[list[str]]) -> None:
    assert blocks.size == reference.size
    for query in queries:
        expected = reference.search(query, 15)
        got = blocks.search(query, 15)
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert {c for c, s in got if s > expected[-1][1] + 1e-5} == {
            c for c, s in expected if s > expected[-1][1] + 1e-5
        }
        ids = [c for c, _ in expected] + [chunk_id(1, 0), chunk_id(999, 0)]
        ref_scores = reference.scores_for(query, ids)
        assert blocks.scores_for(query, ids) == pytest.approx(ref_scores, abs=1e-5)


QUERIES = [["w1", "w7"], ["w30", "w30", "w2"], ["w55", "unknown"], ["w3"], ["nothing"]]


@pytest.mark.unit
def test_scores_equal_the_rebuilding_index_through_adds_removes_and_reingests() -> None:
    data = corpus(range(1, 60))
    blocks, reference = BlockKeywordIndex(), KeywordIndex()
    generations = {f: 1 for f in range(1, 31)}

    def load(file_id: int) -> tuple[list[int], list[list[str]]]:
        return data[file_id]

    version = 1
    for step in range(12):
        blocks.sync(version, generations, load)
        reference.sync(version, generations, load)
        same_results(blocks, reference, QUERIES)
        version += 1
        generations = dict(generations)
        if step % 3 == 0:
            generations.pop(min(generations))  # a file deleted
        if step % 3 == 1:
            new = 31 + step
            generations[new] = 1  # a file added
        if step % 3 == 2:
            file_id = sorted(generations)[len(generations) // 2]
            data[file_id] = corpus(range(file_id, file_id + 1), seed=step, per_file=5)[file_id]
            generations[file_id] += 1  # a file re-ingested with other text


@pytest.mark.unit
def test_blocks_stay_few_as_files_arrive_one_by_one() -> None:
    data = corpus(range(1, 201), per_file=3)
    index = BlockKeywordIndex()
    generations: dict[int, int] = {}
    for file_id in range(1, 201):
        generations[file_id] = 1
        index.sync(file_id, generations, lambda f: data[f])

    assert index.size == 600
    assert len(index._blocks) <= 12
    reference = KeywordIndex()
    reference.sync(1, generations, lambda f: data[f])
    same_results(index, reference, QUERIES)


@pytest.mark.unit
def test_an_emptied_index_answers_nothing() -> None:
    data = corpus(range(1, 4))
    index = BlockKeywordIndex()
    index.sync(1, {1: 1, 2: 1, 3: 1}, lambda f: data[f])
    index.sync(2, {}, lambda f: data[f])

    assert index.size == 0
    assert index.search(["w1"], 5) == []
    assert index.scores_for(["w1"], [chunk_id(1, 0)]) == {}
    assert index.version == 2


@pytest.mark.unit
def test_term_weights_count_like_repeated_tokens_and_scale_the_best_score() -> None:
    data = {1: ([chunk_id(1, 0), chunk_id(1, 1), chunk_id(1, 2)], [["book", "python"], ["python", "list"], ["x"]])}
    index = BlockKeywordIndex()
    index.sync(1, {1: 1}, lambda f: data[f])

    assert index.search({"book": 2.0, "python": 1.0}, 3) == index.search(["book", "book", "python"], 3)
    assert index.scores_for({"book": 0.5}, [chunk_id(1, 0)]) == index.scores_for(["book"], [chunk_id(1, 0)])
