"""Stage train: hand memory that the process has freed back to the operating system (glibc's `malloc_trim`).

Loading and preparing data, and building a model, free many buffers that glibc's allocator keeps for reuse
(NumPy temporaries, the dataset file's decompression buffers, Python objects of the spec). They stay in the process's
resident set until trimmed, so every later peak (training, the first XLA compilation, saving) starts from a higher
floor. Trimming before such a phase lowers the peak (VmHWM) without changing anything the process computes.
Saving a `.keras` archive writes its weights through a temporary file instead of memory (`weights_through_disk`).
NumPy's data arrays use ordinary pages, not huge ones, while kspec trains (`small_pages`).
`KSPEC_NO_TRIM=1` in the environment turns all three off (for before/after measurements).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any


def _off() -> bool:
    """`KSPEC_NO_TRIM=1`: every measure of this module is off (read at each use, so tests can switch it)."""
    return bool(os.environ.get("KSPEC_NO_TRIM"))


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if _off():
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


@contextlib.contextmanager
def weights_through_disk() -> Iterator[None]:
    """While saving a `.keras` archive: Keras writes the weights to a temporary HDF5 file beside the archive and
    copies it in, instead of building the whole HDF5 file in memory first.

    Keras takes the in-memory way whenever the machine has the memory free (`saving_lib.is_memory_sufficient`); that
    held the weights twice more (an in-memory file and its copy into the archive), and saving became the run's peak.
    The archive holds the same entries either way. Where this Keras has no such switch, saving is left as it is.
    """
    try:
        from keras.src.saving import saving_lib
    except ImportError:  # pragma: no cover - another Keras layout
        yield
        return
    choose = getattr(saving_lib, "is_memory_sufficient", None)
    if choose is None or _off():
        yield
        return

    def never(model: Any) -> bool:
        return False

    saving_lib.is_memory_sufficient = never
    try:
        yield
    finally:
        saving_lib.is_memory_sufficient = choose


def _madvise_switch() -> Callable[[bool], bool] | None:
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    return switch if callable(switch) else None


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """NumPy's large arrays in ordinary 4 KiB pages instead of transparent huge pages, for the block's duration.

    NumPy asks Linux for huge pages for every large array (`madvise`). Where a virtual machine backs its memory
    lazily, the first touch of each fresh 2 MiB page stalls: on this project's machine one copy of MNIST's 150 MiB of
    training images took 1.2 to 2.4 s with huge pages and 0.1 s without, on every run. kspec makes each large array
    once, hands it to TensorFlow (whose own buffers use ordinary pages) and then only reads it, so huge pages buy
    nothing back. The previous setting is restored afterwards; `KSPEC_NO_TRIM=1` leaves NumPy's default alone.
    """
    switch = None if _off() else _madvise_switch()
    if switch is None:
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)
