"""The operator commands (`ingest`, `kb`, `files`) run as processes against the real stack."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO, free_port
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PARIS = "# Cities\n\n## Paris\n\nParis is the capital of France. The Eiffel Tower was finished in 1889.\n"
GARDEN = "Tomatoes need full sun, deep watering once a week, and a stake or cage to climb.\n"
FILE_FIELDS = ("path", "outcome", "status", "file_id", "sha256", "size", "chunks", "code", "reason")
CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 8 + b"\ntruncated"


def kb_cli(stack: Stack, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return subprocess.run(
        [sys.executable, "-m", "kb_server", *args, "--url", stack.base_url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
        timeout=timeout_s,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"not JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def counts(**nonzero: int) -> dict[str, int]:
    outcomes = ("done", "duplicate", "already", "rejected", "failed", "cancelled", "skipped")
    return {o: nonzero.get(o, 0) for o in outcomes}


@pytest.mark.slow
def test_bulk_ingest_shows_progress_and_a_summary_then_a_second_run_skips_everything(
    stack: Stack, shared_data: Path
) -> None:
    # The FAQ pages and the markdown files: the live-manual formats take minutes more on 2 cores,
    # and the PDF needs OCR. qa.jsonl is picked up by the glob and skipped as an unsupported type.
    expected = sorted(
        [p.name for p in (shared_data / "python-faq" / "html").glob("*.html")]
        + [p.name for p in shared_data.rglob("*.md") if "python-faq-zh" not in p.parts]
    )
    assert len(expected) == 13
    # The Chinese FAQ's Markdown pages are left out: the same content as the English pages.
    args = ["ingest", str(shared_data), "--recursive", "--include", "python-faq/*", "--include", "*.md"]
    args += ["--exclude", "python-faq-zh/*"]
    args += ["--kb", "cli-shared", "--create", "--batch", "5"]

    first = kb_cli(stack, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert "created knowledge base cli-shared" in lines
    assert any(line.startswith("skipped ") and "qa.jsonl" in line for line in lines)
    for phase in ("hashing", "uploading", "processing"):
        assert any(line.startswith(f"{phase}: ") for line in lines), first.stdout
    assert any("13/13 files" in line for line in lines if line.startswith("uploading: "))
    assert any("done 13 · failed 0 · pending 0" in line for line in lines), first.stdout
    assert lines[-1] == "13 files: 13 done"

    files = stack.client.files("cli-shared")
    assert sorted(f["name"] for f in files) == expected
    assert all(f["status"] == "done" and f["chunks"] > 0 for f in files)

    second = kb_cli(stack, *args, "--json")
    assert second.returncode == 0, second.stderr
    report = as_json(second)
    assert report["ok"] is True
    assert report["counts"] == counts(already=13, skipped=1)
    assert {f["file_id"] for f in report["files"] if f["outcome"] == "already"} == {f["file_id"] for f in files}
    assert "uploading" not in second.stderr
    assert "13 of 13 files already in the KB" in second.stderr
    assert len(stack.client.files("cli-shared")) == 13


def test_rejected_and_failed_files_exit_1_with_a_json_summary_of_each_file(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.md").write_text(PARIS)
    (tmp_path / "sub" / "copy.md").write_text(PARIS)
    (tmp_path / "program.txt").write_bytes(b"MZ\x90\x00\x03" + b"\x00" * 200)
    (tmp_path / "fake.docx").write_text("plain text, not a docx")
    (tmp_path / "broken.pdf").write_bytes(CORRUPT_PDF)
    (tmp_path / "picture.gif").write_bytes(b"GIF89a")

    result = kb_cli(stack, "ingest", str(tmp_path), "-r", "--kb", "cli-bad", "--create", "--json")
    assert result.returncode == 1, result.stderr
    report = as_json(result)
    assert set(report) == {"kb", "url", "ok", "counts", "files"}
    assert (report["kb"], report["url"], report["ok"]) == ("cli-bad", stack.base_url, False)
    assert report["counts"] == counts(done=1, duplicate=1, rejected=2, failed=1, skipped=1)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert set(by_name["good.md"]) == set(FILE_FIELDS)
    assert by_name["good.md"]["outcome"] == "done"
    assert by_name["good.md"]["chunks"] >= 1
    assert len(by_name["good.md"]["sha256"]) == 64
    assert by_name["copy.md"]["outcome"] == "duplicate"
    assert by_name["copy.md"]["file_id"] == by_name["good.md"]["file_id"]
    assert by_name["program.txt"]["outcome"] == "rejected"
    assert by_name["fake.docx"]["code"] == "content_mismatch"
    assert by_name["broken.pdf"]["outcome"] == "failed"
    assert by_name["broken.pdf"]["code"] == "parse_error"
    assert "PDF" in by_name["broken.pdf"]["reason"]
    assert by_name["picture.gif"]["outcome"] == "skipped"
    assert "processing: " in result.stderr  # progress goes to stderr with --json

    again = kb_cli(stack, "ingest", str(tmp_path), "-r", "--kb", "cli-bad")
    assert again.returncode == 1  # the PDF is in the KB but failed; the rejected files are refused again
    assert "3 of 5 files already in the KB: not sent again" in again.stdout
    assert "failed in the KB: parse_error" in again.stdout
    assert again.stdout.splitlines()[-1] == "5 files: 3 already in the KB, 2 rejected"

    good_only = kb_cli(stack, "ingest", str(tmp_path / "good.md"), "--kb", "cli-bad", "--json")
    assert good_only.returncode == 0
    assert as_json(good_only)["counts"] == counts(already=1)


def test_include_and_exclude_globs_match_relative_paths(stack: Stack, tmp_path: Path) -> None:
    for rel, text in [
        ("a.md", PARIS),
        ("b.txt", GARDEN),
        ("notes/c.md", "# Kyoto\n\nKyoto was the imperial capital of Japan.\n"),
        ("notes/draft/d.md", "# Draft\n\nNot ready.\n"),
        (".hidden.md", "# Hidden\n"),
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    globs = ["--include", "*.md", "--exclude", "notes/draft/*"]

    flat = kb_cli(stack, "ingest", str(tmp_path), *globs, "--kb", "cli-globs", "--create", "--json")
    assert flat.returncode == 0, flat.stderr
    assert [(Path(f["path"]).name, f["outcome"]) for f in as_json(flat)["files"]] == [("a.md", "done")]

    deep = kb_cli(stack, "ingest", str(tmp_path), "--recursive", *globs, "--kb", "cli-globs", "--json")
    assert deep.returncode == 0, deep.stderr
    outcomes = [(f["path"], f["outcome"]) for f in as_json(deep)["files"]]
    assert outcomes == [(str(tmp_path / "a.md"), "already"), (str(tmp_path / "notes" / "c.md"), "done")]
    assert sorted(f["name"] for f in stack.client.files("cli-globs")) == ["a.md", "c.md"]


def test_kb_and_files_commands_print_tables_or_json_and_server_errors(stack: Stack, tmp_path: Path) -> None:
    created = kb_cli(stack, "kb", "create", "cli-admin", "--description", "for the CLI", "--json")
    assert created.returncode == 0, created.stderr
    assert as_json(created)["name"] == "cli-admin"
    assert as_json(created)["description"] == "for the CLI"

    again = kb_cli(stack, "kb", "create", "cli-admin")
    assert again.returncode == 1
    assert again.stderr.startswith("kb-server: kb_exists: ")
    bad_name = kb_cli(stack, "kb", "create", "no/slashes")
    assert bad_name.returncode == 1
    assert bad_name.stderr.startswith("kb-server: invalid_request: name: ")

    (tmp_path / "garden.txt").write_text(GARDEN)
    assert kb_cli(stack, "ingest", str(tmp_path), "--kb", "cli-admin").returncode == 0

    listed = as_json(kb_cli(stack, "kb", "ls", "--json"))["kbs"]
    mine = next(k for k in listed if k["name"] == "cli-admin")
    assert (mine["files"], mine["description"]) == (1, "for the CLI")
    table = kb_cli(stack, "kb", "ls")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:3] == ["name", "files", "chunks"]
    assert any(line.split()[:2] == ["cli-admin", "1"] for line in table.stdout.splitlines())

    files = as_json(kb_cli(stack, "files", "ls", "--kb", "cli-admin", "--json"))["files"]
    assert [(f["name"], f["status"]) for f in files] == [("garden.txt", "done")]
    assert as_json(kb_cli(stack, "files", "ls", "--kb", "cli-admin", "--status", "failed", "--json")) == {"files": []}
    files_table = kb_cli(stack, "files", "ls", "--kb", "cli-admin")
    assert "garden.txt" in files_table.stdout
    assert " done " in files_table.stdout
    missing = kb_cli(stack, "files", "ls", "--kb", "cli-nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("kb-server: kb_not_found: ")

    unconfirmed = kb_cli(stack, "kb", "rm", "cli-admin")
    assert unconfirmed.returncode == 2  # no terminal to confirm on, and no --yes
    assert "--yes" in unconfirmed.stderr
    removed = kb_cli(stack, "kb", "rm", "cli-admin", "--yes", "--json")
    assert removed.returncode == 0, removed.stderr
    assert as_json(removed) == {"deleted": "cli-admin", "files": 1, "chunks": mine["chunks"]}
    assert "cli-admin" not in {k["name"] for k in as_json(kb_cli(stack, "kb", "ls", "--json"))["kbs"]}
    assert kb_cli(stack, "kb", "rm", "cli-admin", "--yes").stderr.startswith("kb-server: kb_not_found: ")


def test_usage_and_connection_errors_exit_2(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(PARIS)
    no_kb = kb_cli(stack, "ingest", str(tmp_path), "--kb", "cli-never-created")
    assert no_kb.returncode == 2
    assert "kb_not_found" in no_kb.stderr
    assert "--create" in no_kb.stderr
    assert kb_cli(stack, "ingest", str(tmp_path / "missing"), "--kb", "x").returncode == 2
    assert kb_cli(stack, "ingest", str(tmp_path), "--kb", "x", "--batch", "0").returncode == 2

    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    nobody = f"http://127.0.0.1:{free_port()}"
    for args in (["ingest", str(tmp_path), "--kb", "x"], ["kb", "ls"]):
        result = subprocess.run(
            [sys.executable, "-m", "kb_server", *args, "--url", nobody],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        assert result.returncode == 2
        assert result.stderr.startswith(f"kb-server: cannot reach {nobody}")


def test_on_a_terminal_progress_and_the_summary_are_drawn_with_rich(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "garden.txt").write_text(GARDEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(COLUMNS="100", TERM="xterm")
    args = ["ingest", str(tmp_path), "--kb", "cli-tty", "--create", "--url", stack.base_url]
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "kb_server", *args], stdout=follower, stderr=follower, env=env, cwd=REPO
        )
        os.close(follower)
        output = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0, output.decode(errors="replace")
    finally:
        os.close(leader)
    text = output.decode(errors="replace")
    assert "\x1b[" in text  # drawn, not plain lines
    assert "━" in text  # a progress bar
    assert "Summary" in text
    assert "1 file: 1 done" in text
