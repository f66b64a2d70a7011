"""`kb-server sync`'s plan: the local tree against the KB's listing, without a server."""

from __future__ import annotations

import pytest

from ingestion.registration import display_name
from kb_server.cli.sync_plan import RemoteFile, Step, ignored, plan_sync

pytestmark = pytest.mark.unit


def remote(file_id: int, name: str, sha: str, status: str = "done", url: str | None = None) -> RemoteFile:
    return RemoteFile(file_id, name, sha, status, url)


def actions(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.action, s.name) for s in steps]


def everything(name: str) -> bool:
    return True


def test_new_changed_unchanged_and_vanished_names_with_deletes_first() -> None:
    local = [("a.md", "A"), ("notes/b.md", "B2"), ("notes/c.md", "C")]
    kb = [remote(1, "a.md", "A"), remote(2, "notes/b.md", "B1"), remote(3, "gone.md", "G")]
    steps = plan_sync(local, kb, delete=True, in_scope=everything)
    assert actions(steps) == [
        ("delete", "gone.md"),
        ("unchanged", "a.md"),
        ("new_version", "notes/b.md"),
        ("add", "notes/c.md"),
    ]
    assert steps[0].file == kb[2]
    assert steps[1].file == kb[0]
    assert actions(plan_sync(local, kb, delete=False, in_scope=everything))[0] == ("unchanged", "a.md")


def test_a_version_still_being_ingested_counts_as_there_and_a_cancelled_file_as_absent() -> None:
    kb = [remote(1, "a.md", "A1"), remote(2, "a.md", "A2", "processing"), remote(3, "b.md", "B", "cancelled")]
    steps = plan_sync([("a.md", "A2"), ("b.md", "B")], kb, delete=True, in_scope=everything)
    assert actions(steps) == [("unchanged", "a.md"), ("add", "b.md")]
    assert steps[0].file == kb[1]


def test_bytes_already_in_the_kb_under_another_name_are_a_duplicate_unless_that_name_goes() -> None:
    kb = [remote(1, "old.md", "X")]
    kept = plan_sync([("new.md", "X")], kb, delete=False, in_scope=everything)
    assert actions(kept) == [("duplicate", "new.md")]
    assert kept[0].file == kb[0]
    moved = plan_sync([("new.md", "X")], kb, delete=True, in_scope=everything)
    assert actions(moved) == [("delete", "old.md"), ("add", "new.md")]


def test_two_local_files_with_the_same_bytes_send_the_first() -> None:
    steps = plan_sync([("a/x.md", "S"), ("b/x.md", "S")], [], delete=False, in_scope=everything)
    assert actions(steps) == [("add", "a/x.md"), ("duplicate", "b/x.md")]
    assert steps[1].twin == "a/x.md"


def test_deletes_stay_in_scope_and_never_touch_web_pages() -> None:
    kb = [remote(1, "top.md", "T"), remote(2, "sub/deep.md", "D"), remote(3, "Page.html", "P", url="https://x.org/")]
    flat = plan_sync([], kb, delete=True, in_scope=lambda name: "/" not in name)
    assert actions(flat) == [("delete", "top.md")]
    assert actions(plan_sync([], kb, delete=True, in_scope=everything)) == [
        ("delete", "top.md"),
        ("delete", "sub/deep.md"),
    ]


def test_every_version_of_a_vanished_name_is_deleted() -> None:
    kb = [remote(1, "a.md", "A1"), remote(2, "a.md", "A2", "queued")]
    assert [s.file.file_id for s in plan_sync([], kb, delete=True, in_scope=everything) if s.file] == [1, 2]


@pytest.mark.parametrize(
    ("rel", "skip"),
    [
        ("notes/a.md", False),
        (".hidden.md", True),
        ("notes/.git/x.md", True),
        ("~$report.docx", True),
        (".~lock.report.odt#", True),
        ("a.md.swp", True),
        ("download.pdf.part", True),
        ("draft.md~", True),
        ("report.crdownload", True),
    ],
)
def test_hidden_and_temporary_files_are_ignored(rel: str, skip: bool) -> None:
    assert ignored(rel) is skip


def test_the_server_keeps_a_relative_path_only_when_asked_and_without_dot_parts() -> None:
    assert display_name("notes/a.md") == "a.md"
    assert display_name("notes/a.md", keep_path=True) == "notes/a.md"
    assert display_name("/../x/./y\\z.md", keep_path=True) == "x/y/z.md"
    assert display_name(".\x00./etc/passwd.md", keep_path=True) == "etc/passwd.md"
