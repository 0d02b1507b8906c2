"""Traffic profiles (a registry): requests per second for every minute of a 30-day month, scaled to
a peak rate; plus the Lambda cold-start fraction a profile implies under a keep-alive model."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

MINUTES_PER_MONTH = 30 * 24 * 60
MINUTES_PER_DAY = 24 * 60


def constant(minutes: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.ones(minutes.shape, dtype=np.float64)


def diurnal(minutes: NDArray[np.int64]) -> NDArray[np.float64]:
    """A daily wave from 10% of peak at 04:00 to 100% at 16:00 (UTC)."""
    phase = 2 * np.pi * ((minutes % MINUTES_PER_DAY) / MINUTES_PER_DAY - 16 / 24)
    return 0.55 + 0.45 * np.cos(phase)


def business_hours(minutes: NDArray[np.int64]) -> NDArray[np.float64]:
    """Peak 09:00-18:00 on weekdays, 5% of peak otherwise."""
    hour = (minutes % MINUTES_PER_DAY) // 60
    weekday = (minutes // MINUTES_PER_DAY) % 7 < 5
    return np.where(weekday & (hour >= 9) & (hour < 18), 1.0, 0.05)


def spiky(minutes: NDArray[np.int64]) -> NDArray[np.float64]:
    """10% of peak, with a 5-minute burst to the peak at the top of every hour."""
    return np.where(minutes % 60 < 5, 1.0, 0.1)


PROFILES: dict[str, Callable[[NDArray[np.int64]], NDArray[np.float64]]] = {
    "constant": constant, "diurnal": diurnal, "business-hours": business_hours, "spiky": spiky}


def profile_rates(name: str, peak_rps: float) -> NDArray[np.float64]:
    """Requests per second for each minute of the month."""
    if name not in PROFILES:
        raise ValueError(f"unknown traffic profile {name!r}; choose one of {', '.join(PROFILES)} or a trace CSV")
    return PROFILES[name](np.arange(MINUTES_PER_MONTH)) * peak_rps


def trace_rates(path: Path) -> NDArray[np.float64]:
    """A per-minute trace: a CSV with a `requests` column (requests in that minute), repeated or cut
    to fill one month."""
    with path.open() as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "requests" not in reader.fieldnames:
            raise ValueError(f"{path}: expected a CSV with a 'requests' column (requests per minute)")
        per_minute = np.array([float(row["requests"]) for row in reader], dtype=np.float64)
    if per_minute.size == 0 or (per_minute < 0).any():
        raise ValueError(f"{path}: needs at least one row and no negative counts")
    reps = int(np.ceil(MINUTES_PER_MONTH / per_minute.size))
    return np.tile(per_minute, reps)[:MINUTES_PER_MONTH] / 60.0


def cold_start_fraction(rates_per_s: NDArray[np.float64], *, duration_ms: float, keep_alive_min: float = 10.0
                        ) -> float:
    """Modeled share of requests that start a new Lambda environment.

    Two causes, per minute: environments reclaimed while traffic is so thin that gaps exceed the
    keep-alive (Poisson arrivals: P(gap > keep-alive) = exp(-rate × keep-alive)), and scale-out
    beyond the environments kept warm over the last keep-alive window (concurrency by Little's law).
    """
    requests = rates_per_s * 60.0
    concurrency = np.ceil(rates_per_s * duration_ms / 1000.0)
    window = max(1, int(keep_alive_min))
    padded = np.concatenate([np.zeros(window), concurrency])
    warm = np.max(np.lib.stride_tricks.sliding_window_view(padded[:-1], window), axis=1)
    scale_out = np.maximum(concurrency - warm, 0.0)
    idle_reclaim = requests * np.exp(-rates_per_s * keep_alive_min * 60.0)
    total = float(requests.sum())
    return float(min((scale_out.sum() + idle_reclaim.sum()) / total, 1.0)) if total > 0 else 0.0
