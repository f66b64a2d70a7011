from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.load import dumpd

from ingestion.chunking import chunk_elements
from ingestion.errors import DocumentError
from ingestion.jsondoc import MAX_DEPTH, parse_json

pytestmark = pytest.mark.unit


def _parse(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    return [e.text for e in parse_json(path, "application/json")]


def test_values_keep_the_keys_that_say_what_they_are(tmp_path: Path) -> None:
    texts = _parse(tmp_path, '{"server": {"port": 8077, "hosts": ["a", "b"]}, "name": "kb"}')
    assert texts == ["name: kb", "server.port: 8077", "server.hosts: a; b"]


def test_a_list_of_records_becomes_a_table(tmp_path: Path) -> None:
    texts = _parse(tmp_path, '{"people": [{"name": "Ada", "born": 1815}, {"name": "Alan", "born": 1912}]}')
    assert texts[0] == "people"
    assert "Ada" in texts[1]
    assert "1912" in texts[1]


def test_json_lines_are_read_one_value_per_line(tmp_path: Path) -> None:
    assert _parse(tmp_path, '{"q": "one"}\n{"q": "two"}\n') == ["q: one\nq: two"]  # records: table rows


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 100_000])
def test_json_nested_too_deep_is_a_document_error_not_a_crash(tmp_path: Path, depth: int) -> None:
    with pytest.raises(DocumentError, match="nests deeper") as caught:
        _parse(tmp_path, "[" * depth + "]" * depth)
    assert caught.value.code == "too_deep"


def test_invalid_json_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="not valid JSON"):
        _parse(tmp_path, '{"open": ')


def test_a_langchain_document_is_read_as_its_text_with_its_metadata_on_every_chunk(tmp_path: Path) -> None:
    document = Document(
        page_content="Owls hunt at night.\n\n  Their soft feathers make their flight silent.  ",
        metadata={"author": "Ada", "year": 1843, "tags": ["birds", "night"]},
    )
    path = tmp_path / "text-0.json"
    path.write_text(json.dumps(dumpd(document)), encoding="utf-8")

    elements = parse_json(path, "application/json")
    chunks = chunk_elements(elements, chunk_size=400, chunk_overlap=0)

    assert [e.text for e in elements] == ["Owls hunt at night.", "Their soft feathers make their flight silent."]
    assert [c.meta for c in chunks] == [{"author": "Ada", "year": 1843, "tags": ["birds", "night"]}]
    small = chunk_elements(elements, chunk_size=30, chunk_overlap=0)
    assert len(small) > 1
    assert all(c.meta["author"] == "Ada" for c in small)


def test_a_json_that_only_looks_like_a_document_is_read_as_json(tmp_path: Path) -> None:
    texts = _parse(tmp_path, '{"lc": 1, "type": "constructor", "id": ["x", "Other"], "kwargs": {"page_content": "p"}}')
    assert "kwargs.page_content: p" in texts
