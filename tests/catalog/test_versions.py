"""New versions of a document, on SQLite and PostgreSQL: the swap is one transaction, races make a chain."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from catalog import Chunk, Database, File, FileStatus, KnowledgeBase, jobs, repository
from tests.catalog.test_jobs import reload, rows

pytestmark = pytest.mark.unit


def upload(db: Database, kb: KnowledgeBase, sha: str, *, replace: bool = True, name: str = "faq.md") -> File:
    digest = sha * 64 if len(sha) == 1 else sha.replace("-", "e").ljust(64, "f")
    reg = repository.register_file(db, kb.id, digest, name, 10, "text/markdown", uuid.uuid4().hex, replace_name=replace)
    return reg.file


def ingest(db: Database, file: File, texts: list[str]) -> jobs.Completed | None:
    claim = jobs.claim(db, file.id, "w", 60)
    assert claim is not None
    return jobs.complete(db, file.id, "w", claim.run, rows(file.id, texts))


def searchable(db: Database, kb: KnowledgeBase) -> dict[int, list[str]]:
    """What a reader refreshing at the KB's version would serve: {file_id: chunk texts}."""
    _, generations = repository.done_generations(db, kb.id)
    with db.read() as s:
        found = s.execute(select(Chunk.file_id, Chunk.text).where(Chunk.file_id.in_(list(generations)))).all()
    out: dict[int, list[str]] = {}
    for fid, text in found:
        out.setdefault(fid, []).append(text)
    return out


def test_a_new_version_serves_only_once_done_and_the_old_leaves_in_that_commit(db: Database, kb: KnowledgeBase) -> None:
    old = upload(db, kb, "a")
    ingest(db, old, ["old text"])
    new = upload(db, kb, "b")
    assert (new.version, new.replaces) == (2, old.id)

    claim = jobs.claim(db, new.id, "w", 60)
    assert claim is not None
    assert searchable(db, kb) == {old.id: ["old text"]}  # still the old one while the new one runs
    before = repository.kb_version(db, kb.id)
    done = jobs.complete(db, new.id, "w", claim.run, rows(new.id, ["new text"]), cached=1)

    assert done is not None
    assert [r.file_id for r in done.replaced] == [old.id]
    assert done.replaced[0].sha256 == "a" * 64
    assert repository.kb_version(db, kb.id) == before + 1  # one bump: out and in together
    assert searchable(db, kb) == {new.id: ["new text"]}
    row = reload(db, new.id)
    assert (row.status, row.version, row.replaces, row.cached_chunks) == ("done", 2, old.id, 1)
    assert row.replaced_at is not None
    assert [f.id for f in repository.list_files(db, kb.id)] == [new.id]
    assert not repository.sha_in_use(db, "a" * 64)


def test_a_failed_or_cancelled_new_version_leaves_the_old_one_serving(db: Database, kb: KnowledgeBase) -> None:
    old = upload(db, kb, "a")
    ingest(db, old, ["old text"])
    broken = upload(db, kb, "b")
    jobs.claim(db, broken.id, "w", 60)
    assert jobs.fail(db, broken.id, "w", "parse_error", "not a markdown file")

    assert searchable(db, kb) == {old.id: ["old text"]}
    assert reload(db, broken.id).error == "not a markdown file"

    # The next upload replaces the failed tip; once done the whole chain below it goes.
    fixed = upload(db, kb, "c")
    assert (fixed.version, fixed.replaces) == (3, broken.id)
    done = ingest(db, fixed, ["fixed text"])
    assert done is not None
    assert sorted(r.file_id for r in done.replaced) == sorted([old.id, broken.id])
    assert searchable(db, kb) == {fixed.id: ["fixed text"]}
    assert [f.id for f in repository.list_files(db, kb.id)] == [fixed.id]


def test_keep_both_and_same_bytes(db: Database, kb: KnowledgeBase) -> None:
    first = upload(db, kb, "a")
    ingest(db, first, ["one"])
    again = repository.register_file(db, kb.id, "a" * 64, "faq.md", 10, "text/markdown", "t", replace_name=True)
    assert not again.created  # same bytes: a duplicate, as before
    assert again.file.id == first.id

    both = upload(db, kb, "b", replace=False)
    assert (both.version, both.replaces) == (1, None)
    ingest(db, both, ["two"])
    assert searchable(db, kb) == {first.id: ["one"], both.id: ["two"]}

    other = upload(db, kb, "c", name="other.md")
    assert (other.version, other.replaces) == (1, None)


def test_an_older_version_finishing_after_a_newer_one_cannot_come_back(db: Database, kb: KnowledgeBase) -> None:
    v1 = upload(db, kb, "a")
    ingest(db, v1, ["v1"])
    v2 = upload(db, kb, "b")
    v3 = upload(db, kb, "c")
    assert (v3.version, v3.replaces) == (3, v2.id)  # v2 is the tip: v3 is its successor
    c2 = jobs.claim(db, v2.id, "w2", 60)
    assert c2 is not None

    ingest(db, v3, ["v3"])  # the newest finishes first and takes the whole chain
    assert jobs.complete(db, v2.id, "w2", c2.run, rows(v2.id, ["v2"])) is None
    assert searchable(db, kb) == {v3.id: ["v3"]}


def _send(
    db: Database,
    kb: KnowledgeBase,
    sha: str,
    name: str,
    gate: threading.Barrier,
    made: list[File],
    errors: list[BaseException],
) -> None:
    gate.wait()
    try:
        made.append(upload(db, kb, sha, name=name))
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def test_racing_uploads_of_new_versions_make_one_chain(db: Database, kb: KnowledgeBase) -> None:
    for round_no in range(10):
        name = f"doc-{round_no}.md"
        base = upload(db, kb, f"{round_no:x}0-", name=name)
        ingest(db, base, ["base"])
        gate = threading.Barrier(2)
        made: list[File] = []
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_send, args=(db, kb, f"{round_no:x}{k}-", name, gate, made, errors)) for k in (1, 2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        assert sorted(f.version for f in made) == [2, 3]
        first, second = sorted(made, key=lambda f: f.version)
        assert (first.replaces, second.replaces) == (base.id, first.id)
        # Whichever finishes, exactly one version of the document serves.
        ingest(db, first, ["first"])
        ingest(db, second, ["second"])
        with db.read() as s:
            live = s.scalars(select(File.id).where(File.name == name, File.status == FileStatus.DONE)).all()
        assert list(live) == [second.id]


def test_two_versions_completing_at_once_leave_the_newest_alone(db: Database, kb: KnowledgeBase) -> None:
    for round_no in range(8):
        name = f"race-{round_no}.md"
        v1 = upload(db, kb, f"{round_no:x}a-", name=name)
        ingest(db, v1, ["v1"])
        v2 = upload(db, kb, f"{round_no:x}b-", name=name)
        v3 = upload(db, kb, f"{round_no:x}c-", name=name)
        claims = [jobs.claim(db, f.id, f"w{f.id}", 60) for f in (v2, v3)]
        gate = threading.Barrier(2)
        results: dict[int, object] = {}
        errors: list[BaseException] = []

        def finish(
            file: File,
            run: int,
            gate: threading.Barrier = gate,
            results: dict[int, object] = results,
            errors: list[BaseException] = errors,
        ) -> None:
            gate.wait()
            try:
                results[file.id] = jobs.complete(db, file.id, f"w{file.id}", run, rows(file.id, [file.name]))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=finish, args=(f, c.run)) for f, c in zip((v2, v3), claims, strict=True) if c]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors  # no deadlock, no error: the document's lock makes them take turns
        assert results[v3.id] is not None
        with db.read() as s:
            live = s.scalars(select(File.id).where(File.name == name)).all()
        assert list(live) == [v3.id]
        assert searchable(db, kb).get(v3.id) == [v3.name]
