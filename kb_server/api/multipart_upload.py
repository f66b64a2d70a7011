"""Receive multipart uploads straight into the data dir, enforcing size limits as bytes arrive.

Starlette's `request.form()` spools every part to the system temp dir first and only then lets us
look at it, so an oversized body would land on disk whole before we could refuse it. Here the body
is parsed as it streams: each file part goes into a hashing temp file inside the data dir, and the
request is cut off with 413 the moment a file or the whole body passes its limit (at once, when
Content-Length already says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from ingestion.uploads import StagedBlob, StagingWriter, UploadStore
from kb_server.errors import InvalidInput, PayloadTooLarge
from kb_server.settings import LimitSettings

FIELD = "files"


@dataclass(frozen=True)
class ReceivedFile:
    name: str | None
    staged: StagedBlob


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    writer: StagingWriter | None = None
    filename: str | None = None
    skip: bool = False


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


async def receive_files(request: Request, store: UploadStore, limits: LimitSettings) -> list[ReceivedFile]:
    """Parse the multipart body of `request` into staged blobs (caller commits or discards them).

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

    received: list[ReceivedFile] = []
    part = _Part()
    header_field = bytearray()
    header_value = bytearray()
    problem: Exception | None = None

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        part.headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal problem
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        if disposition.get(b"name", b"").decode("utf-8", "replace") != FIELD or b"filename" not in disposition:
            part.skip = True  # other fields are ignored
            return
        if len(received) >= limits.max_files_per_request:
            problem = InvalidInput(f"at most {limits.max_files_per_request} files per request", code="too_many_files")
            part.skip = True
            return
        part.filename = disposition[b"filename"].decode("utf-8", "replace")
        part.writer = store.open_staging(limits.max_file_bytes)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal problem
        if part.writer is None or problem is not None:
            return
        try:
            part.writer.write(data[start:end])
        except OverflowError:
            problem = PayloadTooLarge(
                f"{part.filename!r} is larger than the per-file limit of {_mib(limits.max_file_bytes)}",
                code="file_too_large",
            )

    def on_part_end() -> None:
        if part.writer is not None and problem is None:
            received.append(ReceivedFile(part.filename, part.writer.finish()))
            part.writer = None

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
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_request_bytes:
                raise PayloadTooLarge(f"the request is larger than {_mib(limits.max_request_bytes)}")
            parser.write(chunk)
            if problem is not None:
                raise problem
        parser.finalize()
        if problem is not None:
            raise problem
    except BaseException as exc:
        if part.writer is not None:
            part.writer.abort()
        for item in received:
            store.discard(item.staged)
        if isinstance(exc, ClientDisconnect):
            raise InvalidInput("the upload was interrupted", code="upload_interrupted") from exc
        if isinstance(exc, (PayloadTooLarge, InvalidInput)):
            raise
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise InvalidInput(f"malformed multipart body: {exc}", code="malformed_multipart") from exc
        raise
    if not received:
        raise InvalidInput("no file in the multipart field 'files'", code="no_files")
    return received
