"""What the custom-loop recipes (`tape`, `gan`) share: resuming from their checkpoint, taking a batch's inputs."""

from __future__ import annotations

from typing import Any

from kspec.training.checkpoint import Checkpoint
from kspec.training.session import Session


def resume(s: Session, ckpt: Checkpoint) -> int:
    """The completed epochs to continue after: the checkpoint's when resuming, else 0. Under `multi_worker` the
    chief's checkpoint is restored on every worker (sent over the collective: only the chief has the run folder)."""
    if not s.resuming:
        return 0
    if s.spec.distribute == "multi_worker":
        from kspec.training.chief_says import restore_everywhere

        return restore_everywhere(s.chief, ckpt)
    return ckpt.restore()


def x_only(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple) else batch
