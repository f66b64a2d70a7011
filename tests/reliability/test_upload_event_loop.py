"""A big upload streaming in does not stall the API's event loop: status polls keep being answered.

The upload's writes, fsync and rename are blocking file I/O; on the event loop they hold up every
other request of the process (status polls, SSE streams) for as long as the disk takes. This
machine's disk flushes 50 MiB in a few milliseconds, so the API runs with a shim that makes fsync
as slow as a busy disk or an NFS data dir (25 MB/s): two seconds for this file.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO
from tests.support.stack import Stack, api_only

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

UPLOAD_BYTES = 50 << 20
BLOCK = 256 << 10
MAX_GAP_S = 1.0
BOUNDARY = "kb-upload-boundary-7d1c"
SLOW_DISK = REPO / "tests" / "support" / "slow_disk"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API process on a slow disk, and its Redis; the upload is only queued, so no worker is needed."""
    root = Path(tmp_path_factory.mktemp("upload-loop"))
    with api_only(root, PYTHONPATH=f"{SLOW_DISK}:{REPO}", SLOW_DISK_FSYNC_MBPS="25") as stack:
        yield stack


def _text_block(i: int) -> bytes:
    line = f"line {i}: the quick brown fox jumps over the lazy dog, again and again.\n".encode()
    return (line * (BLOCK // len(line) + 1))[:BLOCK]


def _body() -> tuple[Iterator[bytes], int, str]:
    """A multipart body of one UPLOAD_BYTES text file, sent in blocks with short pauses, and its sha256."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    blocks = [_text_block(i) for i in range(UPLOAD_BYTES // BLOCK)]
    digest = hashlib.sha256(b"".join(blocks)).hexdigest()

    def stream() -> Iterator[bytes]:
        yield head
        for block in blocks:
            yield block
            time.sleep(0.005)
        yield tail

    return stream(), len(head) + UPLOAD_BYTES + len(tail), digest


def test_status_polls_are_answered_within_a_second_while_50_mb_stream_in(api: Stack) -> None:
    api.client.create_kb("big")
    body, length, digest = _body()
    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        result["response"] = httpx.post(
            f"{api.base_url}/api/kbs/big/files",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}", "content-length": str(length)},
            timeout=300,
        )

    sender = threading.Thread(target=upload, name="big-upload")
    answered: list[float] = []
    with httpx.Client(base_url=api.base_url, timeout=30) as poller:
        poller.get("/healthz")
        sender.start()
        while sender.is_alive():
            assert poller.get("/healthz").status_code == 200
            assert poller.get("/api/kbs").status_code == 200
            answered.append(time.monotonic())
            time.sleep(0.02)
    sender.join()
    response = result["response"]
    assert response.status_code == 202, response.text
    accepted = response.json()["files"][0]
    assert (accepted["status"], accepted["sha256"]) == ("queued", digest)
    gaps = [b - a for a, b in itertools.pairwise(answered)]
    assert len(gaps) > 20, "the upload ended before the polls could watch it"
    assert max(gaps) < MAX_GAP_S, f"the longest wait for a status poll was {max(gaps):.2f} s"
