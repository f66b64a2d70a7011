"""The `ByteStore` contract, which the data dir's folders and the PostgreSQL catalog both keep."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog import Database
from catalog.migrate import migrate
from catalog.models import StoredChunk, StoredObject
from catalog.stored_bytes import DatabaseByteStore
from ingestion.uploads import UploadStore
from tests.support.postgres import temporary_database
from tests.support.processes import REPO
from vectorstore.byte_copy import copy_objects
from vectorstore.byte_store import ByteStore, LocalByteStore

pytestmark = pytest.mark.integration

CHUNK = 4096  # small rows, so that a few KiB already span several


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with temporary_database() as url:
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url


@pytest.fixture(params=["local", "database"])
def store(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[ByteStore]:
    if request.param == "local":
        yield LocalByteStore(tmp_path / "bytes")
        return
    # A bucket of its own per test: the module shares one database.
    database = DatabaseByteStore(database_url, os.urandom(6).hex(), tmp_path / "tmp", chunk_bytes=CHUNK)
    yield database
    database.dispose()


def test_an_object_reads_back_whole_and_a_write_replaces_it(store: ByteStore) -> None:
    data = os.urandom(3 * CHUNK + 17)
    store.write("3/segments/5.1.faiss", [data[:100], data[100:]])
    assert store.read("3/segments/5.1.faiss") == data
    assert store.exists("3/segments/5.1.faiss")
    store.write("3/segments/5.1.faiss", [b"shorter"])
    assert store.read("3/segments/5.1.faiss") == b"shorter"
    assert store.read("3/segments/6.1.faiss") is None
    assert not store.exists("3/segments/6.1.faiss")


def test_a_write_that_fails_half_way_leaves_nothing_to_read(store: ByteStore) -> None:
    def broken() -> Iterator[bytes]:
        yield os.urandom(2 * CHUNK)
        raise OSError("the client went away")

    with pytest.raises(OSError, match="went away"):
        store.write("ab/half", broken())
    assert store.read("ab/half") is None
    assert store.names("") == []


def test_a_moved_in_file_is_streamed_and_copied_out_again(store: ByteStore, tmp_path: Path) -> None:
    data = os.urandom(5 * CHUNK + 1)
    source = tmp_path / "staged"
    source.write_bytes(data)
    store.move_in("ab/blob", source)
    assert not source.exists()
    with store.local_file("ab/blob") as path:
        assert path is not None
        assert path.read_bytes() == data
    if isinstance(store, DatabaseByteStore):
        assert not path.exists()  # the copy lived as long as the context
    with store.local_file("ab/none") as missing:
        assert missing is None


def test_names_list_folders_and_deletes_remove(store: ByteStore) -> None:
    for name in ("1/segments/3.1.faiss", "1/segments/31.1.faiss", "1/keywords/3.1.json", "2/segments/3.1.faiss"):
        store.write(name, [name.encode()])
    assert store.names("1") == ["1/keywords/3.1.json", "1/segments/3.1.faiss", "1/segments/31.1.faiss"]
    assert store.names("1/segments", start="3.") == ["1/segments/3.1.faiss"]
    store.delete("1/segments/3.1.faiss")
    store.delete("1/segments/3.1.faiss")
    assert store.names("1/segments") == ["1/segments/31.1.faiss"]
    store.delete_folder("1")
    assert store.names("") == ["2/segments/3.1.faiss"]


def test_stats_give_each_objects_size_and_write_time(store: ByteStore) -> None:
    before = time.time() - 5  # the database's clock and ours, a little apart
    store.write("1/segments/3.1.faiss", [b"x" * (2 * CHUNK + 1)])
    store.write("1/keywords/3.1.json", [b"{}"])
    stats = store.stats("1/segments")
    assert list(stats) == ["1/segments/3.1.faiss"]
    size, written = stats["1/segments/3.1.faiss"]
    assert size == 2 * CHUNK + 1
    assert before < written < time.time() + 5
    assert sorted(store.stats()) == store.names("")


def test_copy_objects_copies_what_is_missing_or_differs_and_deletes_nothing(store: ByteStore, tmp_path: Path) -> None:
    source = LocalByteStore(tmp_path / "source")
    upload = "ab/ab" + "0" * 62
    source.write(upload, [os.urandom(3 * CHUNK)])
    source.write("1/segments/3.1.faiss", [b"vectors"])
    source.write("1/keywords/3.1.json", [b"{}"])
    store.write("9/segments/1.1.faiss", [b"the target's own"])
    first = copy_objects(source, store, content_named=False)
    assert (first.copied, first.skipped, first.only_in_target) == (3, 0, 1)
    assert first.copied_bytes == 3 * CHUNK + 9
    assert store.read(upload) == source.read(upload)
    again = copy_objects(source, store, content_named=False)
    assert (again.copied, again.skipped) == (0, 3)
    store.write("1/segments/3.1.faiss", [b"VECTORS"])  # the same size, other bytes: copied again
    fixed = copy_objects(source, store, content_named=False)
    assert (fixed.copied, fixed.skipped) == (1, 2)
    assert store.read("1/segments/3.1.faiss") == b"vectors"
    assert len(source.names("")) == 3
    assert store.exists("9/segments/1.1.faiss")


def test_uploads_on_the_database_are_rows_of_one_mebibyte_or_less(tmp_path: Path, database_url: str) -> None:
    bytes_store = DatabaseByteStore(database_url, "uploads-t", tmp_path / "tmp", chunk_bytes=CHUNK)
    uploads = UploadStore(bytes_store, tmp_path / "tmp")
    data = os.urandom(7 * CHUNK + 5)
    staged = uploads.stage(io.BytesIO(data))
    uploads.commit(staged)
    uploads.commit(uploads.stage(io.BytesIO(data)))  # the same bytes again: stored once
    sha = hashlib.sha256(data).hexdigest()
    assert uploads.all_shas() == [sha]
    assert list((tmp_path / "tmp").iterdir()) == []
    db = Database(database_url)
    try:
        with db.read() as s:
            [(object_id, size, rows, longest)] = s.execute(
                select(
                    StoredObject.id,
                    StoredObject.size,
                    func.count(StoredChunk.seq),
                    func.max(func.length(StoredChunk.data)),
                )
                .join(StoredChunk, StoredChunk.object_id == StoredObject.id)
                .where(StoredObject.bucket == "uploads-t")
                .group_by(StoredObject.id)
            ).all()
        assert (size, rows, longest) == (len(data), 8, CHUNK)
        uploads.delete(sha)
        with db.read() as s:  # the chunks went with their object
            assert s.scalar(select(func.count()).where(StoredChunk.object_id == object_id)) == 0
    finally:
        db.dispose()
        bytes_store.dispose()


_BIG_OBJECT = """
import os, resource, sys
from pathlib import Path
from catalog.stored_bytes import DatabaseByteStore

url, tmp, mib = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = DatabaseByteStore(url, "big", tmp)
store.exists("warm-up")  # imports and connects before the peak is taken
source = tmp / "big.bin"
with source.open("wb") as handle:
    for _ in range(mib):
        handle.write(os.urandom(1 << 20))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
store.move_in("ab/big", source)
with store.local_file("ab/big") as path:
    size = path.stat().st_size
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(size, grown // 1024)
"""


@pytest.mark.slow
def test_a_big_upload_streams_in_and_out_without_being_held_in_memory(tmp_path: Path, database_url: str) -> None:
    mib = 128
    done = subprocess.run(
        [sys.executable, "-c", _BIG_OBJECT, database_url, str(tmp_path), str(mib)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    size, grown_mib = map(int, done.stdout.split())
    assert size == mib << 20
    assert grown_mib < 24, f"peak memory grew by {grown_mib} MiB while {mib} MiB went in and out"
