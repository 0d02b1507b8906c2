"""Traffic for the simulator: request timestamps from counts per bin, and trace files.

A trace CSV is either per-request (`timestamp_s`: seconds from the start, one row a request) or
per-bin (`requests`: requests in each bin; bins are one minute, the cost model's trace format,
unless a `second` column says they are one second).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Trace:
    """Requests per bin of `bin_s` seconds, and the exact timestamps when the file had them."""

    counts: NDArray[np.float64]
    bin_s: float
    timestamps_s: NDArray[np.float64] | None = None

    @property
    def duration_s(self) -> float:
        return float(self.counts.size * self.bin_s)


def arrivals_from_counts(counts: NDArray[np.float64], bin_s: float, rng: np.random.Generator, *,
                         poisson: bool = False) -> NDArray[np.float64]:
    """Request times in seconds, uniform within each bin (a Poisson process given its count). With
    `poisson`, the counts are expected values and each bin's count is drawn from a Poisson law."""
    expected = np.asarray(counts, dtype=np.float64)
    n = rng.poisson(expected) if poisson else np.rint(expected).astype(np.int64)
    starts = np.repeat(np.arange(expected.size, dtype=np.float64) * bin_s, n)
    return np.sort(starts + rng.uniform(0.0, bin_s, starts.size))


def bin_index(times_s: NDArray[np.float64], bin_s: float, duration_s: float | None = None
              ) -> tuple[NDArray[np.int64], int]:
    """Each time's bin, and how many bins: enough for `duration_s`, or up to the last time's."""
    idx = (times_s // bin_s).astype(np.int64)
    bins = math.ceil(duration_s / bin_s) if duration_s is not None else int(idx.max(initial=0)) + 1
    return idx, max(bins, 1)


def counts_from_arrivals(times_s: NDArray[np.float64], bin_s: float, duration_s: float | None = None
                         ) -> NDArray[np.float64]:
    """Requests per bin (times past `duration_s` are left out)."""
    idx, bins = bin_index(times_s, bin_s, duration_s)
    return np.bincount(idx, minlength=bins).astype(np.float64)[:bins]


def read_trace(path: Path) -> Trace:
    with path.open() as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        rows = list(reader)
    try:
        if "timestamp_s" in fields:
            times = np.sort(np.array([float(r["timestamp_s"]) for r in rows], dtype=np.float64))
            if times.size == 0 or times[0] < 0:
                raise ValueError("needs at least one row and no negative timestamps")
            return Trace(counts_from_arrivals(times, 1.0), 1.0, times)
        if "requests" in fields:
            counts = np.array([float(r["requests"]) for r in rows], dtype=np.float64)
            if counts.size == 0 or (counts < 0).any() or not np.isfinite(counts).all():
                raise ValueError("needs at least one row and no negative counts")
            return Trace(counts, 1.0 if "second" in fields else 60.0)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    raise ValueError(f"{path}: expected a CSV with a 'timestamp_s' column (one row a request) or a 'requests' "
                     "column (requests per minute, or per second with a 'second' column)")
