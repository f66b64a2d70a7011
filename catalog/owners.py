"""Who holds a lease: `host/pid/start/nonce`, so a process on the same host can tell a dead holder.

A lease whose holder ran on this host and whose process is gone (or is another process under a
reused pid) is as good as expired: its work can be taken at once instead of after the lease runs
out. A holder on another host is only ever judged by its lease's expiry.
"""

from __future__ import annotations

import os
import socket
import uuid

import psutil

_HOST = socket.gethostname()[:24]


def _start_ms(pid: int) -> int:
    return int(psutil.Process(pid).create_time() * 1000)


def new_owner() -> str:
    """A fresh owner id for one run (or one worker's reservations), at most 64 characters."""
    pid = os.getpid()
    return f"{_HOST}/{pid}/{_start_ms(pid)}/{uuid.uuid4().hex[:12]}"


def is_dead_here(owner: str | None) -> bool:
    """True when `owner` names a process of this host that no longer runs."""
    if not owner:
        return False
    parts = owner.split("/")
    if len(parts) != 4 or parts[0] != _HOST or not parts[1].isdigit() or not parts[2].isdigit():
        return False
    pid, started = int(parts[1]), int(parts[2])
    try:
        process = psutil.Process(pid)
        return _start_ms(pid) != started or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
