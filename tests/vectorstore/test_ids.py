"""Chunk ids: one contiguous, deterministic id range per file."""

from __future__ import annotations

import pytest

from vectorstore.ids import MAX_CHUNKS_PER_FILE, chunk_id, file_id_range, file_of

pytestmark = pytest.mark.unit


def test_chunk_id_packs_file_and_ordinal() -> None:
    assert chunk_id(0, 0) == 0
    assert chunk_id(5, 7) == 5 * MAX_CHUNKS_PER_FILE + 7
    assert chunk_id(5, 7) == chunk_id(5, 7)


@pytest.mark.parametrize("file_id", [1, 42, 2**30])
@pytest.mark.parametrize("ordinal", [0, 1, MAX_CHUNKS_PER_FILE - 1])
def test_every_chunk_id_falls_in_its_file_range(file_id: int, ordinal: int) -> None:
    cid = chunk_id(file_id, ordinal)
    start, end = file_id_range(file_id)
    assert start <= cid < end
    assert file_of(cid) == file_id


def test_file_ranges_are_adjacent_and_disjoint() -> None:
    assert file_id_range(3)[1] == file_id_range(4)[0]
    assert file_id_range(3)[1] - file_id_range(3)[0] == MAX_CHUNKS_PER_FILE
    assert chunk_id(3, MAX_CHUNKS_PER_FILE - 1) + 1 == chunk_id(4, 0)


@pytest.mark.parametrize("ordinal", [-1, MAX_CHUNKS_PER_FILE, MAX_CHUNKS_PER_FILE + 5])
def test_ordinal_outside_the_file_range_is_rejected(ordinal: int) -> None:
    with pytest.raises(ValueError, match="at most"):
        chunk_id(1, ordinal)
