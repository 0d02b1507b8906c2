"""Timing hooks: what a cold start is made of, as the core sees it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass


@dataclass
class ColdStartTimings:
    """Milliseconds spent on each step of bringing a model up in this process (measured here)."""

    runtime_import_ms: float = 0.0
    verify_ms: float = 0.0
    model_load_ms: float = 0.0
    first_predict_ms: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @property
    def total_ms(self) -> float:
        return self.runtime_import_ms + self.verify_ms + self.model_load_ms + (self.first_predict_ms or 0.0)


@contextmanager
def stopwatch_ms() -> Iterator[list[float]]:
    """Yield a one-element list that holds the elapsed milliseconds once the block ends."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = (time.perf_counter() - start) * 1000.0
