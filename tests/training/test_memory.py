"""`memory.give_back`: freed heap memory leaves the resident set (glibc's malloc_trim), and the switch turns it off;
`memory.weights_through_disk`: Keras saves the same archive through a scratch file."""

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


@pytest.mark.keras
def test_weights_through_disk_saves_the_same_model(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from keras.src.saving import saving_lib

    from kspec.training import runs

    model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.ones((4, 5), np.float32), np.zeros((4, 2), np.float32))  # optimizer slots exist
    model.save(tmp_path / "in_memory.keras")
    chooser = saving_lib.is_memory_sufficient
    assert chooser(model) is True  # this machine has the memory: Keras would build the weights file in memory
    with runs.atomic_path_alone(tmp_path / "run" / "model.keras") as tmp, memory.weights_through_disk():
        assert saving_lib.is_memory_sufficient(model) is False
        model.save(tmp)
    assert saving_lib.is_memory_sufficient is chooser  # put back
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["model.keras"]  # no scratch file, no temp folder
    a, b = keras.saving.load_model(tmp_path / "in_memory.keras"), keras.saving.load_model(tmp_path / "run/model.keras")
    for x, y in zip(a.weights + a.optimizer.variables, b.weights + b.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_failed_save_leaves_nothing(tmp_path: Path) -> None:
    from kspec.training import runs

    with pytest.raises(RuntimeError), runs.atomic_path_alone(tmp_path / "model.keras") as tmp:
        tmp.write_bytes(b"part")
        (tmp.parent / "tmpscratch").write_bytes(b"scratch")  # what Keras leaves beside the archive while saving
        raise RuntimeError("killed midway")
    assert list(tmp_path.iterdir()) == []


def test_small_pages_turns_numpy_huge_pages_off_and_back(monkeypatch: pytest.MonkeyPatch) -> None:
    switch = memory._madvise_switch()
    assert switch is not None  # NumPy 1.x and 2.x both have it on Linux
    before = switch(True)  # returns the setting it replaces
    try:
        with memory.small_pages():
            assert switch(False) is False  # inside: off
        assert switch(True) is True  # the True set before the block is back
        monkeypatch.setenv("KSPEC_NO_TRIM", "1")
        with memory.small_pages():
            assert switch(True) is True  # the switch leaves NumPy's setting alone
    finally:
        switch(before)
