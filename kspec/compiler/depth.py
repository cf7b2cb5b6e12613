"""Room on the Python stack for Keras's graph walk, so kspec builds and loads models deeper than Keras alone does.

Keras assembles (and loads) a functional model by walking its graph recursively: `_build_map_helper` in
`keras.src.ops.function` takes one Python frame per layer on the path it follows, so a plain chain of about 3,000
layers (TensorFlow's import raises Python's limit to 3,000) fails with "maximum recursion depth exceeded". The walk
is Python calling Python, which since CPython 3.11 uses no C stack, so a higher limit, held only while Keras walks,
is safe. Imports the standard library only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: frames left for everything around the walk (the caller's own stack, Keras's and TensorFlow's calls)
HEADROOM = 5_000
#: frames allowed per layer (the walk takes one; twice that is a margin)
PER_LAYER = 2


@contextmanager
def room_for(layers: int) -> Iterator[None]:
    """Raise the recursion limit so that a graph walk through `layers` layers fits; put it back afterwards."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, HEADROOM + PER_LAYER * layers))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
