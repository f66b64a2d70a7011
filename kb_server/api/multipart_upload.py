"""Receive multipart uploads straight into the data dir, enforcing size limits as bytes arrive.

Starlette's `request.form()` spools every part to the system temp dir first and only then lets us
look at it, so an oversized body would land on disk whole before we could refuse it. Here the body
is parsed as it streams: each file part goes into a hashing temp file inside the data dir, and the
request is cut off with 413 the moment a file or the whole body passes its limit (at once, when
Content-Length already says so).

The parser's callbacks only collect bytes in memory; the file I/O (create, write, hash, fsync)
runs in a worker thread, in blocks of about a MiB, so a big upload on a slow disk never holds up
the event loop and the other requests it serves (status polls, chat streams).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from ingestion.uploads import StagedBlob, StagingWriter, UploadStore
from kb_server.errors import InvalidInput, PayloadTooLarge
from kb_server.settings import LimitSettings

FIELD = "files"
# Bytes collected before they are handed to a thread: the parser calls back per ~64 KiB piece.
FLUSH_BYTES = 1 << 20


@dataclass(frozen=True)
class ReceivedFile:
    name: str | None
    staged: StagedBlob


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    filename: str | None = None
    skip: bool = True


@dataclass
class _FilePart:
    """A file part being received: bytes waiting in memory, then in its staging file."""

    filename: str
    size: int = 0
    pending: bytearray = field(default_factory=bytearray)
    ended: bool = False
    writer: StagingWriter | None = None
    staged: StagedBlob | None = None

    def due(self) -> bool:
        return self.ended or len(self.pending) >= FLUSH_BYTES

    def flush(self, store: UploadStore) -> None:
        """Blocking file I/O: run it in a thread."""
        if self.writer is None:
            self.writer = store.open_staging()
        if self.pending:
            block, self.pending = self.pending, bytearray()
            self.writer.write(block)
        if self.ended:
            self.staged = self.writer.finish()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


_FIELD_BYTES = 64  # option fields are short words


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


async def receive_files(
    request: Request, store: UploadStore, limits: LimitSettings, fields: dict[str, str] | None = None
) -> list[ReceivedFile]:
    """Parse the multipart body of `request` into staged blobs (caller commits or discards them).

    Text fields whose names are keys of `fields` are read into it (the first 64 bytes); any other
    non-file field is ignored.

    Raises:
        PayloadTooLarge: the body, or one file, is over its limit; nothing is kept.
        InvalidInput: not multipart/form-data, too many files, or no file in field `files`.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the files as multipart/form-data in the field 'files'", code="not_multipart")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise PayloadTooLarge(f"the request is {_mib(int(declared))}; the limit is {_mib(limits.max_request_bytes)}")

    files: list[_FilePart] = []  # every file part so far; those not yet staged are flushed as they fill
    part = _Part()
    header_field = bytearray()
    header_value = bytearray()
    problem: Exception | None = None

    wanted = fields if fields is not None else {}
    field_name: str | None = None
    field_value = bytearray()

    def on_part_begin() -> None:
        nonlocal part, field_name
        part = _Part()
        field_name = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        part.headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal problem, field_name
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in disposition and name in wanted:
            field_name = name
            field_value.clear()
            return
        if name != FIELD or b"filename" not in disposition:
            return  # other fields are ignored
        if len(files) >= limits.max_files_per_request:
            problem = InvalidInput(f"at most {limits.max_files_per_request} files per request", code="too_many_files")
            return
        part.skip = False
        files.append(_FilePart(disposition[b"filename"].decode("utf-8", "replace")))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal problem
        if field_name is not None:
            field_value.extend(data[start:end][: max(0, _FIELD_BYTES - len(field_value))])
            return
        if part.skip or problem is not None:
            return
        current = files[-1]
        current.size += end - start
        if current.size > limits.max_file_bytes:
            problem = PayloadTooLarge(
                f"{current.filename!r} is larger than the per-file limit of {_mib(limits.max_file_bytes)}",
                code="file_too_large",
            )
            return
        current.pending.extend(data[start:end])

    def on_part_end() -> None:
        if field_name is not None:
            wanted[field_name] = field_value.decode("utf-8", "replace").strip()
        if not part.skip:
            files[-1].ended = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )

    async def flush_due() -> None:
        for item in files:
            if item.staged is None and item.due():
                await run_in_threadpool(item.flush, store)

    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_request_bytes:
                raise PayloadTooLarge(f"the request is larger than {_mib(limits.max_request_bytes)}")
            parser.write(chunk)
            if problem is not None:
                raise problem
            await flush_due()
        parser.finalize()
        if problem is not None:
            raise problem
        await flush_due()
    except BaseException as exc:
        for item in files:
            item.abort()
        if isinstance(exc, ClientDisconnect):
            raise InvalidInput("the upload was interrupted", code="upload_interrupted") from exc
        if isinstance(exc, (PayloadTooLarge, InvalidInput)):
            raise
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise InvalidInput(f"malformed multipart body: {exc}", code="malformed_multipart") from exc
        raise
    for item in files:
        if item.staged is None:  # a part the body never closed
            item.abort()
    received = [ReceivedFile(item.filename, item.staged) for item in files if item.staged is not None]
    if not received:
        raise InvalidInput("no file in the multipart field 'files'", code="no_files")
    return received
