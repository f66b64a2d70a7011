"""Chunking: headings stay with their text, long sections split with the heading repeated."""

from __future__ import annotations

import pytest

from ingestion.chunking import chunk_elements
from ingestion.parsing import Element

pytestmark = pytest.mark.unit


def title(text: str, **meta: object) -> Element:
    return Element(text, "Title", dict(meta))


def para(text: str, **meta: object) -> Element:
    return Element(text, "NarrativeText", dict(meta))


FAQ = [
    title("Shop FAQ"),
    title("How do I return an item? ¶"),
    para("Send it back within 30 days with the receipt; the refund follows within a week."),
    title("Do you ship abroad?"),
    para("Yes, to every country in the European Union, for a flat fee of nine euros."),
    title("Can I pay by invoice?"),
    para("Business customers can pay by invoice after their first order."),
]


@pytest.mark.parametrize("chunk_size", [120, 200, 300, 1000])
def test_each_heading_shares_a_chunk_with_its_text(chunk_size: int) -> None:
    chunks = chunk_elements(FAQ, chunk_size=chunk_size, chunk_overlap=20)

    pairs = [(FAQ[i].text, FAQ[i + 1].text) for i in (1, 3, 5)]
    for heading, answer in pairs:
        heading = heading.rstrip(" ¶")
        holding = [c for c in chunks if answer in c.text]
        assert len(holding) == 1
        assert f"{heading}\n{answer}" in holding[0].text
    for chunk in chunks:
        assert len(chunk.text) <= chunk_size
        assert not chunk.text.rstrip().endswith("?"), "a chunk ends with the next section's heading"


def test_small_sections_are_packed_and_titled_by_the_first() -> None:
    chunks = chunk_elements(FAQ, chunk_size=1000, chunk_overlap=0)

    assert len(chunks) == 1
    assert chunks[0].meta["title"] == "Shop FAQ"
    assert chunks[0].text.startswith("Shop FAQ\n\nHow do I return an item?\nSend it back")


def test_heading_marks_are_stripped() -> None:
    chunks = chunk_elements([title("Installation ¶"), para("Run the installer.")], 100, 0)
    assert chunks[0].text == "Installation\nRun the installer."
    assert chunks[0].meta == {"title": "Installation"}


def test_a_long_section_is_split_with_the_heading_repeated() -> None:
    sentences = [f"Rule {i} of the warranty covers one more kind of damage." for i in range(40)]
    elements = [title("Warranty"), para(" ".join(sentences))]

    chunks = chunk_elements(elements, chunk_size=200, chunk_overlap=40)

    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.startswith("Warranty\n")
        assert len(chunk.text) <= 200
        assert chunk.meta["title"] == "Warranty"
    body = " ".join(c.text.removeprefix("Warranty\n") for c in chunks)
    assert all(sentence in body for sentence in sentences), "a sentence was lost or cut"


def test_a_heading_too_long_to_repeat_is_kept_once() -> None:
    heading = "A very long heading that eats most of the chunk budget by itself, " * 2
    elements = [title(heading), para("word " * 200)]

    chunks = chunk_elements(elements, chunk_size=150, chunk_overlap=0)

    assert sum(heading.strip() in c.text for c in chunks) <= 1
    assert all(len(c.text) <= 150 for c in chunks)


def test_chinese_text_splits_at_sentence_ends_within_chunk_size() -> None:
    sentences = [f"这是第{i}个句子，它说明了退货政策的一部分内容。" for i in range(40)]
    text = "".join(sentences)

    chunks = chunk_elements([para(text)], chunk_size=100, chunk_overlap=20)

    assert len(chunks) >= len(text) // 100
    for chunk in chunks:
        assert len(chunk.text) <= 100
        assert chunk.text.endswith("。")
    assert all(any(s in c.text for c in chunks) for s in sentences)


def test_page_location_is_kept_and_other_metadata_dropped() -> None:
    elements = [
        para("Slide one text.", page_number=1, filetype="application/pdf"),
        title("Prices", sheet="Sheet1", filetype="application/vnd.ms-excel"),
        para("Apples cost three euros.", sheet="Sheet1"),
        para("Pears cost two euros.", slide=3),
    ]

    chunks = chunk_elements(elements, chunk_size=400, chunk_overlap=0)

    assert [c.meta for c in chunks] == [
        {"page_number": 1},
        {"sheet": "Sheet1", "title": "Prices"},
        {"slide": 3, "title": "Prices"},
    ]


def test_a_chunk_never_spans_two_pages_and_a_long_section_keeps_each_page() -> None:
    # A PDF has no headings: one section runs over every page; its chunks must still cite theirs.
    pages = [para(f"Page {n} says: " + f"fact {n}. " * 30, page_number=n) for n in (1, 2, 3)]

    chunks = chunk_elements([title("Manual"), *pages], chunk_size=200, chunk_overlap=20)

    for chunk in chunks:
        numbers = {int(word) for word in chunk.text.replace(".", " ").split()[1:] if word.isdigit()}
        assert numbers == {chunk.meta["page_number"]}, chunk
        assert chunk.meta["title"] == "Manual"
        assert chunk.text.startswith("Manual\n")
    assert {c.meta["page_number"] for c in chunks} == {1, 2, 3}
    assert len(chunk_elements(pages, chunk_size=2000, chunk_overlap=0)) == 3


def test_empty_input_gives_no_chunks() -> None:
    assert chunk_elements([], 100, 10) == []
    assert chunk_elements([para("   ")], 100, 10) == []
