"""UploadStore: staged while hashing, committed content-addressed, identical bytes stored once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from ingestion.uploads import UploadStore

pytestmark = pytest.mark.unit


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_stage_hashes_while_streaming(uploads: UploadStore) -> None:
    data = b"x" * 3_000_000  # several read blocks

    staged = uploads.stage(io.BytesIO(data))

    assert (staged.sha256, staged.size) == (sha(data), len(data))
    assert staged.tmp_path.parent == uploads.tmp_dir
    assert staged.tmp_path.read_bytes() == data
    assert staged.head(4) == b"xxxx"


def test_stage_accepts_an_iterable_of_blocks(uploads: UploadStore) -> None:
    staged = uploads.stage(iter([b"hello ", b"", b"world"]))
    assert staged.sha256 == sha(b"hello world")
    assert staged.size == 11


def test_commit_stores_the_bytes_under_their_sha(uploads: UploadStore) -> None:
    data = b"the annual report"
    staged = uploads.stage(io.BytesIO(data))

    uploads.commit(staged)

    path = uploads.path(sha(data))
    assert path == uploads.store.root / sha(data)[:2] / sha(data)  # type: ignore[attr-defined]
    assert path.read_bytes() == data
    assert not staged.tmp_path.exists()
    assert uploads.all_shas() == [sha(data)]


def test_identical_bytes_are_stored_once(uploads: UploadStore) -> None:
    first = uploads.stage(io.BytesIO(b"same bytes"))
    second = uploads.stage(io.BytesIO(b"same bytes"))
    other = uploads.stage(io.BytesIO(b"other bytes"))

    for staged in (first, second, other):
        uploads.commit(staged)

    assert uploads.all_shas() == sorted({sha(b"same bytes"), sha(b"other bytes")})
    assert list(uploads.tmp_dir.iterdir()) == []


def test_discard_removes_the_staged_file_and_stores_nothing(uploads: UploadStore) -> None:
    staged = uploads.stage(io.BytesIO(b"rejected upload"))

    uploads.discard(staged)
    uploads.discard(staged)

    assert not staged.tmp_path.exists()
    assert uploads.all_shas() == []


def test_oversized_upload_is_refused_and_leaves_nothing(uploads: UploadStore) -> None:
    with pytest.raises(OverflowError, match="more than 10 bytes"):
        uploads.stage(io.BytesIO(b"0123456789A"), max_bytes=10)
    assert list(uploads.tmp_dir.iterdir()) == []

    assert uploads.stage(io.BytesIO(b"0123456789"), max_bytes=10).size == 10


def test_delete_removes_a_stored_blob(uploads: UploadStore) -> None:
    uploads.commit(uploads.stage(io.BytesIO(b"to be deleted")))
    path = uploads.path(sha(b"to be deleted"))

    uploads.delete(sha(b"to be deleted"))
    uploads.delete(sha(b"to be deleted"))

    assert not path.exists()
    assert uploads.all_shas() == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "ab", sha(b"x") + "0"])
def test_only_sha256_digests_become_paths(uploads: UploadStore, bad: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        uploads.path(bad)


def test_empty_store_lists_nothing(tmp_path: Path) -> None:
    assert UploadStore(tmp_path / "nowhere", tmp_path / "tmp").all_shas() == []
