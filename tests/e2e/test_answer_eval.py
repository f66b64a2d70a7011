"""`kb-server eval --answers` end to end: a real stack with SmolLM2, a small slice of both FAQ sets.

Asserts that the pipeline works (the table, a complete CSV, sane fields), never a quality or a speed.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_server.cli.eval_answers import CSV_COLUMNS
from kb_server.services.answer_eval import COLUMNS
from tests.support.processes import REPO
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

KB = "faq-answers"
FIXTURES = REPO / "tests" / "fixtures"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def smollm2_stack(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Stack]:
    """Its own stack, so the fast SmolLM2 answers whatever the default preset is; one page per language."""
    running = Stack(tmp_path_factory.mktemp("answers-stack"), KB_LLM__PRESET="smollm2").start()
    try:
        running.client.create_kb(KB)
        pages = [
            shared_data / "python-faq" / "html" / "general.html",
            shared_data / "python-faq-zh" / "md" / "general.md",
        ]
        running.client.upload_paths(KB, pages)
        files = running.client.wait_settled(KB, expected=2, timeout_s=300)
        assert [f["status"] for f in files] == ["done", "done"], [(f["name"], f["error"]) for f in files]
        yield running
    finally:
        running.stop()


@pytest.fixture
def question_files(tmp_path: Path, shared_data: Path) -> tuple[Path, Path]:
    """2 English and 2 Chinese FAQ questions of the uploaded pages; 2 English and 1 Chinese off-topic."""
    en = [q for q in _lines(shared_data / "python-faq" / "qa.jsonl") if q["file"] == "general.html"][:2]
    zh = [q for q in _lines(shared_data / "python-faq-zh" / "qa.jsonl") if q["file"] == "general.md"][:2]
    offtopic = (
        _lines(FIXTURES / "offtopic_questions.jsonl")[:2] + _lines(FIXTURES / "answers" / "offtopic_zh.jsonl")[:1]
    )
    qa, off = tmp_path / "qa.jsonl", tmp_path / "offtopic.jsonl"
    qa.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in en + zh), encoding="utf-8")
    off.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in offtopic), encoding="utf-8")
    return qa, off


def test_eval_answers_prints_the_table_and_writes_every_question(
    smollm2_stack: Stack, question_files: tuple[Path, Path], tmp_path: Path
) -> None:
    qa, offtopic = question_files
    out = tmp_path / "answers.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kb_server",
            "eval",
            "--data-dir",
            str(tmp_path / "cli-data"),
            "--url",
            smollm2_stack.base_url,
            "--kb",
            KB,
            "--answers",
            str(qa),
            "--off-topic",
            str(offtopic),
            "--csv",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    header, row, *rest = done.stdout.splitlines()
    assert header.split() == ["run"] + [name for name, _ in COLUMNS]
    cells = dict(zip(header.split(), row.split(), strict=True))
    assert (cells["n"], cells["n-off"], cells["errors"]) == ("4", "3", "0")
    assert cells["on-target"].endswith("%")
    assert cells["TTFT-p50"] != "-"
    assert rest == [f"per-question results: {out}"]

    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    assert [r["kind"] for r in rows] == ["qa"] * 4 + ["offtopic"] * 3
    for r in rows:
        assert r["error"] == "", r
        assert r["answer"].strip()
        assert r["refused"] in ("True", "False")
        assert r["cites"] in ("True", "False")
        assert r["refused_by"] in ("", "threshold", "model", "unsupported")
        assert (r["refused"] == "True") == (r["refused_by"] != "")
        if r["refused_by"] != "threshold":  # a refusal without a model may stream no token at all
            assert 0 < float(r["ttft_s"]) <= float(r["total_s"])
            assert int(r["tokens"]) >= 1
        assert r["supported_share"] == "" or 0 <= float(r["supported_share"]) <= 1
    for r in rows[:4]:
        assert r["reference"]
        assert r["on_target"] in ("True", "False")
        assert 0 <= float(r["judge_score"]) <= 1
    for r in rows[4:]:
        assert (r["reference"], r["on_target"], r["judge_score"]) == ("", "", "")
