"""Keep freed memory for reuse: every training step allocates and frees the same large arrays.

A step of a recurrent model allocates megabytes of intermediates (the input projection of all
steps, the stacked weight-gradient factors, gradient buffers) and frees them before the next
step. glibc's allocator hands the top of its heap back to the operating system when more than
a few megabytes are free there, or serves such sizes with fresh ``mmap`` pages, so the next step
faults the same memory back in page by page: measured, 2,000-2,500 page faults and about 8% of a
W3 step (``make bench``). Raising glibc's trim and mmap thresholds keeps that memory in the heap
for the next step, as the hand-written numpy reference's steady pattern gets for free.

This changes the allocator of the whole process, so it is done once, on import, only on glibc,
and not at all if ``MINIGRAD_MALLOC=system`` is set in the environment.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory", "KEPT"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
TRIM_THRESHOLD = 512 << 20  # free heap above this much is returned to the system
MMAP_THRESHOLD = 32 << 20  # glibc's largest dynamic threshold: smaller blocks come from the heap


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse; True if it did (False elsewhere or if refused)."""
    if not sys.platform.startswith("linux") or os.environ.get("MINIGRAD_MALLOC", "") == "system":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


KEPT = keep_freed_memory()
