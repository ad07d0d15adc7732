"""Preloaded first by the analysis pool's fork server: the fork server dies with its parent.

Pool processes are children of the fork server, not of the worker, and each holds the fork
server's "parent alive" pipe open; so when a worker is SIGKILLed (OOM killer, `kill -9`) the fork
server never sees its parent go and it, the pool processes (still running their analysis) and
the resource tracker would live on as orphans. With this, the kernel kills the fork server with
the worker, and the pool processes follow it (their own PDEATHSIG, set in `pool._init_child`).
PDEATHSIG follows the thread that forked: the pool is first used from the event loop's thread,
which lives as long as the worker.
"""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


if sys.argv == ["-c"]:  # only in the fork server (python -c …), never where it is merely imported
    die_with_parent()
