"""`memory.give_back`: freed heap memory leaves the resident set (glibc's malloc_trim), and the switch turns it off."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from kspec.training import memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


def test_freed_small_buffers_leave_the_resident_set() -> None:
    memory._trim.cache_clear()
    # 120k buffers of 2 KiB: below malloc's mmap threshold, so they live on the heap; the last one stays allocated
    # above them, so glibc's automatic trim of the heap's top cannot return the freed ones
    chunks = [np.ones(512, np.float32) for _ in range(120_000)]
    pin = np.ones(512, np.float32)
    del chunks
    before = _rss_mib()
    assert memory.give_back() is True
    after = _rss_mib()
    assert before - after > 100, (before, after)  # about 240 MiB were freed
    assert pin.sum() == 512


def test_the_switch_turns_trimming_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSPEC_NO_TRIM", "1")
    memory._trim.cache_clear()
    try:
        assert memory.give_back() is False
    finally:
        monkeypatch.delenv("KSPEC_NO_TRIM")
        memory._trim.cache_clear()
