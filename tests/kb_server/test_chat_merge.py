"""Neighbouring chunks merged into one passage: real chunks from `ingestion.chunking`, real overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.chunking import ChunkDraft, chunk_elements
from ingestion.elements import Element
from ingestion.settings import IngestionSettings
from kb_server.schemas import SearchHit
from kb_server.services.citations import MIN_OVERLAP, join_chunks, neighbour_runs, run_citation
from vectorstore.ids import MAX_CHUNKS_PER_FILE, chunk_id

pytestmark = pytest.mark.unit

QUESTION = "Why are floating-point calculations so inaccurate?"


def hit(file_id: int, ordinal: int, text: str = "", score: float = 0.5, **meta: Any) -> SearchHit:
    return SearchHit(
        chunk_id=chunk_id(file_id, ordinal), text=text or f"chunk {ordinal}", score=score,
        file_id=file_id, file_name=f"f{file_id}.html", metadata=meta,
    )  # fmt: skip


def words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="module")
def faq_answers(shared_data: Path) -> list[str]:
    lines = (shared_data / "python-faq" / "qa.jsonl").read_text().splitlines()
    return [json.loads(line)["answer"] for line in lines if json.loads(line)["file"] == "design.html"]


@pytest.fixture(scope="module")
def long_section(faq_answers: list[str]) -> tuple[str, list[ChunkDraft]]:
    """A section of three real FAQ answers, split with the default chunk size and overlap."""
    body = "\n".join(a for a in faq_answers if len(a) > 600)[:3000]
    settings = IngestionSettings()
    drafts = chunk_elements(
        [Element("Floating point", "Title"), Element(body, "NarrativeText")],
        settings.chunk_size,
        settings.chunk_overlap,
        cjk_weight=settings.cjk_char_weight,
    )
    return f"Floating point\n{body}", drafts


def test_the_pieces_of_a_split_section_merge_back_into_the_section(long_section: tuple[str, list[ChunkDraft]]) -> None:
    section, drafts = long_section
    assert len(drafts) >= 4
    pieces = [d.text.removeprefix("Floating point\n") for d in drafts]
    shared = [i for i in range(1, len(pieces)) if pieces[i][:MIN_OVERLAP] in pieces[i - 1][-200:]]
    assert shared, "the splitter made no overlap: this test would not test overlap removal"

    hits = [hit(7, i, d.text, 0.4 + i / 100, **d.meta) for i, d in enumerate(drafts)]
    (run,) = neighbour_runs(list(reversed(hits)))
    assert [h.chunk_id for h in run] == [h.chunk_id for h in hits]  # file order, whatever the rank order
    passage = run_citation(1, run, list(reversed(hits)))

    assert words(passage.text) == words(section)  # nothing lost, nothing repeated, heading once
    assert passage.chunk_ids == [h.chunk_id for h in hits]
    assert passage.chunk_id == hits[-1].chunk_id  # the best-ranked chunk
    assert passage.score == max(h.score for h in hits)
    assert passage.metadata == drafts[0].meta


def test_packed_sections_without_overlap_are_joined_whole(faq_answers: list[str]) -> None:
    short = [a for a in faq_answers if len(a) < 600]
    elements = [e for i, a in enumerate(short) for e in (Element(f"Q{i}", "Title"), Element(a, "Text"))]
    drafts = chunk_elements(elements, 750, 150)
    assert len(drafts) >= 2
    first, second = drafts[0].text, drafts[1].text
    assert not first.endswith(second[:MIN_OVERLAP])
    assert join_chunks(first, second) == f"{first}\n\n{second}"


def test_a_chance_shared_edge_shorter_than_the_minimum_is_kept() -> None:
    assert join_chunks("See section 2.", "2. Installation") == "See section 2.\n\n2. Installation"
    assert join_chunks("alpha beta gamma delta", "gamma delta epsilon") == "alpha beta gamma delta epsilon"


def test_runs_group_consecutive_chunks_of_one_file_and_place_in_rank_order() -> None:
    ranked = [
        hit(1, 2, score=0.9),
        hit(2, 0, score=0.8),
        hit(1, 1, score=0.7),
        hit(1, 5, score=0.6),
        hit(1, 3, score=0.5),
        hit(3, 0, score=0.45, page_number=1),
        hit(3, 1, score=0.4, page_number=2),
    ]
    runs = [[h.chunk_id for h in run] for run in neighbour_runs(ranked)]
    assert runs == [
        [chunk_id(1, 1), chunk_id(1, 2), chunk_id(1, 3)],
        [chunk_id(2, 0)],
        [chunk_id(1, 5)],
        [chunk_id(3, 0)],  # another page: a passage cites one place
        [chunk_id(3, 1)],
    ]


def test_the_last_chunk_of_a_file_and_the_first_of_the_next_are_not_neighbours() -> None:
    last, first = hit(1, MAX_CHUNKS_PER_FILE - 1), hit(2, 0)
    assert first.chunk_id == last.chunk_id + 1
    assert len(neighbour_runs([last, first])) == 2
