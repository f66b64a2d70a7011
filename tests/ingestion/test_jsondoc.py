from __future__ import annotations

from pathlib import Path

import pytest

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
