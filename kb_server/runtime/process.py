"""Child-process plumbing shared by the supervisor and the embedded Redis."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def child_preexec() -> None:
    """Run in a child before exec: its own process group, and SIGTERM if the parent dies.

    The own group keeps a terminal's Ctrl-C from reaching children directly (the supervisor
    stops them in order); the parent-death signal means a SIGKILLed supervisor leaves no orphans.
    """
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
