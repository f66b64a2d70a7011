"""A catalogue of malformed and hostile uploads, each with what kb-server must answer.

Every case is one request. `statuses` are the acceptable HTTP answers; for an upload that is
accepted (202), `outcomes` are the acceptable final file statuses (`failed` needs a reason).
Every file name carries a marker, so a search of the disk can tell if a name ever became a path.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import httpx

from tests.support import archives, pdfs

MARK = f"kbrel{uuid.uuid4().hex[:8]}"
GOOD = b"# A plain note\n\nThis note is perfectly ordinary text about lanterns and harbours.\n"


@dataclass(frozen=True)
class Limits:
    file_bytes: int
    request_bytes: int
    files_per_request: int


@dataclass
class Target:
    """Where the catalogue is sent: a live API, with its key and limits."""

    base_url: str
    api_key: str
    kb: str
    limits: Limits

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[Target], httpx.Response | None]
    statuses: tuple[int, ...]
    outcomes: frozenset[str] = field(default_factory=frozenset)
    stored_name: str | None = None  # the name the catalog must show for an accepted upload


def multipart(parts: list[tuple[bytes, bytes]], field_name: bytes = b"files") -> tuple[bytes, str]:
    """A multipart body with raw file names (bytes), as a hostile client would write it."""
    boundary = uuid.uuid4().hex
    body = bytearray()
    for filename, data in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        body += b'Content-Disposition: form-data; name="' + field_name + b'"; filename="' + filename + b'"\r\n'
        body += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return bytes(body), f"multipart/form-data; boundary={boundary}"


def post_files(
    target: Target, parts: list[tuple[bytes, bytes]], kb: str | None = None, field_name: bytes = b"files"
) -> httpx.Response:
    body, content_type = multipart(parts, field_name)
    return httpx.post(
        f"{target.base_url}/api/kbs/{kb or target.kb}/files",
        content=body,
        headers={**target.headers, "content-type": content_type},
        timeout=120,
    )


def one(filename: str | bytes, data: bytes) -> Callable[[Target], httpx.Response]:
    raw = filename if isinstance(filename, bytes) else filename.encode()
    return lambda t: post_files(t, [(raw, data)])


def _chunked_oversized(target: Target) -> httpx.Response:
    body, content_type = multipart([(f"chunked-{MARK}.txt".encode(), b"x" * (target.limits.request_bytes + 1024))])

    def stream() -> Iterator[bytes]:  # no Content-Length: the size is only known as bytes arrive
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]

    headers = {**target.headers, "content-type": content_type}
    return httpx.post(f"{target.base_url}/api/kbs/{target.kb}/files", content=stream(), headers=headers, timeout=120)


def _declared_oversized(target: Target) -> httpx.Response:
    """Content-Length says the body is too large: refused before it is read (only a little is sent)."""
    body, content_type = multipart([(f"declared-{MARK}.txt".encode(), b"y" * 1024)])
    declared = target.limits.request_bytes + 1
    host, port = target.base_url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"POST /api/kbs/{target.kb}/files HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {target.api_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request + body)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return httpx.Response(status, content=reply.partition(b"\r\n\r\n")[2])


def _interrupted(target: Target) -> None:
    """The client announces 1 MiB, sends 100 KiB of it and hangs up."""
    body, content_type = multipart([(f"interrupted-{MARK}.txt".encode(), b"z" * (1 << 20))])
    host, port = target.base_url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"POST /api/kbs/{target.kb}/files HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {target.api_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request + body[: 100 << 10])
    return None


def _too_many(target: Target) -> httpx.Response:
    parts = [
        (f"many-{i}-{MARK}.md".encode(), GOOD + str(i).encode()) for i in range(target.limits.files_per_request + 1)
    ]
    return post_files(target, parts)


def _json_body(target: Target) -> httpx.Response:
    return httpx.post(
        f"{target.base_url}/api/kbs/{target.kb}/files", json={"files": ["x"]}, headers=target.headers, timeout=60
    )


def _garbage_multipart(target: Target) -> httpx.Response:
    headers = {**target.headers, "content-type": "multipart/form-data; boundary=xyz"}
    body = b"--xyz\r\nthis is not a part header\r\n\x00\x01\x02 garbage --xy"
    return httpx.post(f"{target.base_url}/api/kbs/{target.kb}/files", content=body, headers=headers, timeout=60)


def _kb_traversal(target: Target) -> httpx.Response:
    return httpx.post(f"{target.base_url}/api/kbs", json={"name": f"../../{MARK}"}, headers=target.headers, timeout=60)


def binary_noise(size: int = 4096, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


@cache
def memory_hog() -> bytes:
    return archives.memory_hog_docx()


FAILED = frozenset({"failed"})
DONE = frozenset({"done"})
SETTLED = frozenset({"done", "failed"})


def cases() -> list[Case]:
    m = MARK
    return [
        Case("empty .txt", one(f"empty-{m}.txt", b""), (415,)),
        Case("0-byte .pdf", one(f"zero-{m}.pdf", b""), (415,)),
        Case("binary noise named .txt", one(f"noise-{m}.txt", binary_noise()), (415,)),
        Case("an executable named .docx", one(f"elf-{m}.docx", b"\x7fELF\x02\x01\x01" + b"\x00" * 200), (415,)),
        Case("a PDF named .docx", one(f"pdf-{m}.docx", pdfs.pdf_bytes("hello")), (415,)),
        Case("a zip that is no docx, named .docx", one(f"zip-{m}.docx", archives.plain_zip()), (415,)),
        Case("unsupported extension .exe", one(f"tool-{m}.exe", GOOD), (415,)),
        Case("no extension", one(f"README-{m}", GOOD), (415,)),
        Case("zip bomb: a docx declaring 2 GiB", one(f"bomb-{m}.docx", archives.zip_bomb_docx()), (202,), FAILED),
        Case("zip bomb: one entry at 1000:1", one(f"ratio-{m}.docx", archives.ratio_bomb_docx()), (202,), FAILED),
        Case("zip bomb: forged entry sizes", one(f"forged-{m}.docx", archives.forged_size_docx()), (202, 415), FAILED),
        Case("XML entity bomb in a docx", one(f"laughs-{m}.docx", archives.xml_bomb_docx()), (202,), FAILED),
        Case("encrypted PDF", one(f"locked-{m}.pdf", pdfs.encrypted_pdf()), (202,), FAILED),
        Case("truncated PDF", one(f"cut-{m}.pdf", pdfs.truncated_pdf()), (202,), FAILED),
        Case("JSON nested 100,000 deep", one(f"deep-{m}.json", deep_json()), (202, 415), FAILED),
        Case("a docx that needs GiBs to parse", one(f"hog-{m}.docx", memory_hog()), (202,), FAILED),
        Case("a 256 KiB single line", one(f"line-{m}.txt", b"a" * (256 << 10)), (202,), SETTLED),
        Case(
            "invalid UTF-8 text", one(f"latin1-{m}.txt", "café crème brûlée. ".encode("latin-1") * 200), (202,), SETTLED
        ),
        Case("name with ../", one(f"../../../../../../tmp/dotdot-{m}.md", GOOD + b"1"), (202,), DONE, f"dotdot-{m}.md"),
        Case("absolute path name", one(f"/etc/abs-{m}.md", GOOD + b"2"), (202,), DONE, f"abs-{m}.md"),
        Case("Windows path name", one(f"C:\\Windows\\win-{m}.md", GOOD + b"3"), (202,), DONE, f"win-{m}.md"),
        Case("NUL in the name", one(f"nul\x00-{m}.md".encode(), GOOD + b"4"), (202,), DONE, f"nul-{m}.md"),
        Case("right-to-left override in the name", one(f"rtl-{m}\u202edm.exe.md", GOOD + b"5"), (202,), DONE),
        Case("invalid UTF-8 in the name", one(b"bad-\xff\xfe-" + m.encode() + b".md", GOOD + b"6"), (202,), DONE),
        Case("a 1000-character name", one("n" * 990 + f"-{m}.md", GOOD + b"7"), (202,), DONE),
        Case(
            "a file over the per-file limit",
            lambda t: post_files(t, [(f"big-{m}.txt".encode(), b"b" * (t.limits.file_bytes + 1))]),
            (413,),
        ),
        Case("a body over the limit, with Content-Length", _declared_oversized, (413,)),
        Case("a body over the limit, chunked without Content-Length", _chunked_oversized, (413,)),
        Case("too many files in one request", _too_many, (400,)),
        Case("not multipart (JSON)", _json_body, (400,)),
        Case("garbage multipart body", _garbage_multipart, (400,)),
        Case(
            "the file in another form field",
            lambda t: post_files(t, [(f"field-{m}.md".encode(), GOOD)], field_name=b"other"),
            (400,),
        ),
        Case(
            "a knowledge base that does not exist",
            lambda t: post_files(t, [(f"nokb-{m}.md".encode(), GOOD)], kb=f"no-{m}"),
            (404,),
        ),
        Case("a knowledge base named ../../", _kb_traversal, (422,)),
        Case("an upload interrupted halfway", _interrupted, (0,)),  # 0: the client hung up, nothing to read
    ]
