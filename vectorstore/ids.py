"""Deterministic vector ids: a chunk's id is `(file_id << 20) | ordinal`.

A rerun of a file's ingestion produces the same ids, and all of a file's vectors form one
contiguous id range, so a file can be dropped from an index without listing its chunks.
"""

ORDINAL_BITS = 20
MAX_CHUNKS_PER_FILE = 1 << ORDINAL_BITS


def chunk_id(file_id: int, ordinal: int) -> int:
    """The vector id of chunk `ordinal` of file `file_id`.

    Raises:
        ValueError: the ordinal does not fit in the file's id range.
    """
    if not 0 <= ordinal < MAX_CHUNKS_PER_FILE:
        raise ValueError(f"a file can have at most {MAX_CHUNKS_PER_FILE} chunks")
    return (file_id << ORDINAL_BITS) | ordinal


def file_of(chunk: int) -> int:
    return chunk >> ORDINAL_BITS


def file_id_range(file_id: int) -> tuple[int, int]:
    """Half-open range [start, end) of the ids of one file's chunks."""
    return file_id << ORDINAL_BITS, (file_id + 1) << ORDINAL_BITS
