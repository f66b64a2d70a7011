"""Waiting in tests: until a condition holds, or until a killed process and its children are gone."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable

from tests.support.processes import pid_alive


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> None:
    """Poll `condition` until it holds.

    Raises:
        TimeoutError: naming `what`, once `timeout_s` have passed without it.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {timeout_s:.0f} s")
        time.sleep(interval_s)


def kill_9(process: subprocess.Popen[bytes], children: Iterable[int] = (), timeout_s: float = 120) -> None:
    """SIGKILL the process alone and reap it, then wait for `children` (pids taken before the kill) to exit."""
    process.kill()
    process.wait(timeout=10)
    left = list(children)
    wait_for(
        f"every child of the killed process {process.pid} to exit",
        lambda: not any(map(pid_alive, left)),
        timeout_s=timeout_s,
    )
