"""Generation threads shrink while other processes keep the cores busy."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from llm.threads import choose_threads, runnable_elsewhere, threads_for_now

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("configured", "cores", "busy", "expected"),
    [(2, 2, 0, 2), (2, 2, 1, 1), (2, 2, 5, 1), (4, 8, 2, 4), (8, 4, 1, 3), (1, 2, 0, 1)],
)
def test_threads_are_the_free_cores_at_least_one_at_most_configured(
    configured: int, cores: int, busy: int, expected: int
) -> None:
    assert choose_threads(configured, cores, busy) == expected


def test_the_asking_thread_is_not_counted() -> None:
    assert runnable_elsewhere("0.52 0.58 0.59 1/467 12345\n") == 0
    assert runnable_elsewhere("5.10 4.90 4.20 4/467 12345\n") == 3


def test_busy_processes_take_threads_away() -> None:
    spin = "while True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        time.sleep(0.3)
        assert threads_for_now(2, cores=2) == 1
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
