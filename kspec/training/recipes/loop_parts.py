"""What the custom-loop recipes (`tape`, `gan`) share: resuming from their checkpoint, taking a batch's inputs."""

from __future__ import annotations

from typing import Any

from kspec.training.checkpoint import Checkpoint
from kspec.training.session import Session


def resume(s: Session, ckpt: Checkpoint) -> int:
    return ckpt.restore() if s.resuming else 0


def x_only(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple) else batch
