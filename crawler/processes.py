"""Child processes of a crawl (the crawl itself, its parse workers) never outlive their parent."""
from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` when the parent dies (Linux; elsewhere a no-op): a crawl must not outlive
    whoever asked for it, and parse workers must not outlive a crawl killed with SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass
