"""What writing a runtime's artifact at training time produced, and the agreement check both
writers (ONNX, lean) apply to it against scikit-learn. Training-time only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

ExportStatus = Literal["converted", "not_converted", "disagrees"]


@dataclass
class ExportResult:
    """The artifact's bytes (None when it is left out) and what the manifest says about it."""

    data: bytes | None
    status: ExportStatus
    reason: str = ""
    max_abs_diff: float | None = None
    tolerance: float | None = None

    def manifest_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status}
        if self.reason:
            entry["reason"] = self.reason
        if self.max_abs_diff is not None:
            entry["max_abs_diff_vs_sklearn"] = self.max_abs_diff
            entry["tolerance"] = self.tolerance
        return entry


def agreement(data: bytes, got: np.ndarray, want: np.ndarray, *, tolerance: float, regression: bool,
              what: str) -> ExportResult:
    """Converted when every output is within `tolerance` of scikit-learn's (relative to the values'
    scale for a regressor) and, for a classifier, every label is the same; else "disagrees"."""
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    diff = float(np.abs(got - want).max())
    scaled = tolerance * max(1.0, float(np.abs(want).max())) if regression else tolerance
    same_labels = regression or bool((got.argmax(axis=1) == want.argmax(axis=1)).all())
    if diff > scaled or not same_labels:
        return ExportResult(None, "disagrees", f"{what}, but its output differs from scikit-learn's by {diff:.2e} "
                                               f"(> {scaled:.0e}) on {len(want)} rows", diff, scaled)
    return ExportResult(data, "converted", max_abs_diff=diff, tolerance=scaled)
