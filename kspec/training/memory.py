"""Stage train: hand memory that the process has freed back to the operating system (glibc's `malloc_trim`).

Loading and preparing data, and building a model, free many buffers that glibc's allocator keeps for reuse
(NumPy temporaries, the dataset file's decompression buffers, Python objects of the spec). They stay in the process's
resident set until trimmed, so every later peak (training, the first XLA compilation, saving) starts from a higher
floor. Trimming before such a phase lowers the peak (VmHWM) without changing anything the process computes.
`KSPEC_NO_TRIM=1` in the environment turns it off (for before/after measurements).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if os.environ.get("KSPEC_NO_TRIM"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        fn = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): nothing to do
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def give_back() -> bool:
    """Return freed heap memory to the operating system; False where the C library cannot.

    No `gc.collect()` first: with TensorFlow loaded a full collection takes about 0.3 s of CPU, and what the phases
    free is freed by reference counting; the trim itself takes milliseconds.
    """
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
