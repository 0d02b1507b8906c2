"""Queueing formulas, vectorised over bins: Erlang B (loss) and Erlang C (waiting)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def erlang_b(servers: int, load: ArrayLike) -> NDArray[np.float64]:
    """Probability that an arrival finds all `servers` busy in an M/G/c/c system offered `load`
    Erlangs (the recursion B(k) = a·B(k-1) / (k + a·B(k-1)), stable for large c)."""
    a = np.asarray(load, dtype=np.float64)
    b = np.ones_like(a)
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(servers: int, load: ArrayLike) -> NDArray[np.float64]:
    """Probability that an arrival waits in an M/M/c queue offered `load` Erlangs (1 when the queue
    is unstable, load ≥ servers)."""
    a = np.asarray(load, dtype=np.float64)
    b = erlang_b(servers, a)
    rho = a / servers
    with np.errstate(divide="ignore", invalid="ignore"):
        c = b / (1.0 - rho * (1.0 - b))
    return np.where(rho < 1.0, c, 1.0)


def mmc_mean_wait_s(servers: int, load: ArrayLike, mean_service_s: float) -> NDArray[np.float64]:
    """Mean wait in queue of an M/M/c system: C(c, a) · S / (c - a); infinite when unstable."""
    a = np.asarray(load, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(a < servers, erlang_c(servers, a) * mean_service_s / np.maximum(servers - a, 1e-300),
                        np.inf)


SMOOTHING_S = 10.0


def smoothed_rate(counts: NDArray[np.float64], bin_s: float, window_s: float = SMOOTHING_S) -> NDArray[np.float64]:
    """Requests per second, averaged over about `window_s` around each bin. A bin's count is one draw
    of a Poisson process; the queueing formulas below already account for that randomness, so
    feeding them raw per-second counts would count it twice (and overstate waits)."""
    rate = np.asarray(counts, dtype=np.float64) / bin_s
    width = round(window_s / bin_s)
    if width <= 1:
        return rate
    kernel = np.ones(width) / width
    padded = np.pad(rate, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")
