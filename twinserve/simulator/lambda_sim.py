"""Lambda under a trace: environments reused most-recently-used first, reclaimed after the keep-alive,
created cold (INIT, or a SnapStart restore) up to the concurrency limit and the scale-out rate,
throttled beyond; provisioned environments are always warm and used first.

Scale-out rate: each function can add 1,000 execution environments every 10 seconds
(https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html), modeled as a token bucket.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from twinserve.simulator.queueing import erlang_b, smoothed_rate
from twinserve.simulator.result import SimResult, check_samples, draw, latency_summary, timeline
from twinserve.simulator.trace import bin_index

SCALE_OUT_PER_10S = 1000
SAMPLED_REQUESTS = 400_000  # aggregated mode: requests sampled for the latency percentiles


@dataclass
class LambdaParams:
    warm_ms: NDArray[np.float64]  # warm latencies (what an environment is busy for, and what the client sees)
    cold_ms: NDArray[np.float64]  # cold-start latencies: INIT (or restore) plus the first invoke
    concurrency_limit: int = 1000
    keep_alive_s: float = 600.0
    provisioned: int = 0
    scale_out_per_10s: int = SCALE_OUT_PER_10S
    name: str = "lambda"

    def __post_init__(self) -> None:
        self.warm_ms = check_samples("warm latencies", self.warm_ms)
        self.cold_ms = check_samples("cold-start latencies", self.cold_ms)
        if self.concurrency_limit < 1:
            raise ValueError(f"concurrency limit must be at least 1, got {self.concurrency_limit}")
        if not 0 <= self.provisioned <= self.concurrency_limit:
            raise ValueError(f"provisioned concurrency {self.provisioned} must be 0 to the concurrency limit "
                             f"{self.concurrency_limit}")
        if self.keep_alive_s <= 0 or self.scale_out_per_10s < 1:
            raise ValueError("keep-alive must be positive and the scale-out rate at least 1 per 10 s")

    def describe(self) -> dict[str, float]:
        return {"warm_p50_ms": float(np.median(self.warm_ms)), "cold_p50_ms": float(np.median(self.cold_ms)),
                "concurrency_limit": self.concurrency_limit, "keep_alive_s": self.keep_alive_s,
                "provisioned": self.provisioned, "scale_out_per_10s": self.scale_out_per_10s}


def simulate_lambda_exact(times_s: NDArray[np.float64], params: LambdaParams, *, seed: int = 0,
                          bin_s: float = 1.0) -> SimResult:
    """Every request in arrival order (`times_s` sorted, seconds)."""
    rng = np.random.default_rng(seed)
    n = int(times_s.size)
    warm_s = draw(params.warm_ms, n, rng).tolist()
    cold_s = draw(params.cold_ms, n, rng).tolist()
    latency_s = np.full(n, np.nan)
    cold = np.zeros(n, dtype=bool)
    envs_at = np.zeros(n)
    busy: list[float] = []  # when each busy on-demand environment is free again
    idle: deque[float] = deque()  # when each idle one became idle; the right end is the most recent
    provisioned = [0.0] * params.provisioned  # a heap: when each provisioned environment is free
    on_demand = 0
    rate_s = params.scale_out_per_10s / 10.0  # tokens per second
    bucket = float(params.scale_out_per_10s)
    last_t = float(times_s[0]) if n else 0.0
    keep, limit = params.keep_alive_s, params.concurrency_limit - params.provisioned
    for i, t in enumerate(times_s.tolist()):
        while busy and busy[0] <= t:
            idle.append(heapq.heappop(busy))
        while idle and t - idle[0] > keep:
            idle.popleft()
            on_demand -= 1
        if provisioned and provisioned[0] <= t:
            heapq.heapreplace(provisioned, t + warm_s[i])
            latency_s[i] = warm_s[i]
        elif idle:
            idle.pop()
            heapq.heappush(busy, t + warm_s[i])
            latency_s[i] = warm_s[i]
        else:
            bucket = min(float(params.scale_out_per_10s), bucket + (t - last_t) * rate_s)
            last_t = t
            if on_demand < limit and bucket >= 1.0:
                bucket -= 1.0
                on_demand += 1
                heapq.heappush(busy, t + cold_s[i])
                latency_s[i] = cold_s[i]
                cold[i] = True
        envs_at[i] = on_demand + params.provisioned
    answered = ~np.isnan(latency_s)
    idx, bins = bin_index(times_s, bin_s)
    instances = np.full(bins, -1.0)
    np.maximum.at(instances, idx, envs_at)
    instances = _forward_fill(instances, start=float(params.provisioned))
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    return SimResult(option=params.name, mode="exact", requests=float(n), cold_starts=float(cold.sum()),
                     throttled=float(n - answered.sum()), failed=0.0,
                     latency_ms=latency_summary(latency_s[answered] * 1000.0),
                     timeline=timeline(np.arange(bins) * bin_s, instances, counts, bin_s, idx[answered],
                                       latency_s[answered] * 1000.0), inputs=params.describe())


def simulate_lambda_aggregated(counts: NDArray[np.float64], bin_s: float, params: LambdaParams, *, seed: int = 0,
                               sampled: int = SAMPLED_REQUESTS) -> SimResult:
    """Bins of `bin_s` seconds holding `counts` requests each (Poisson arrivals within a bin).

    Concurrency in a bin is Poisson with mean rate × mean busy time (an M/G/∞ system). With
    most-recently-used reuse, the k-th environment is used only when a request finds k - 1 busy, which
    happens at rate λ·P(N = k - 1); it is alive if that happened within the last keep-alive, and a
    request that reaches level k while it is gone starts it cold. Throttles: Erlang B at the limit.
    """
    counts = np.asarray(counts, dtype=np.float64)
    mean_busy_s = float(params.warm_ms.mean()) / 1000.0
    # Concurrency follows the rate within a few busy times: smooth over about 20 of them (see smoothed_rate).
    load = smoothed_rate(counts, bin_s, window_s=min(10.0, 20 * mean_busy_s)) * mean_busy_s  # mean concurrency, Erlangs
    # A new environment is busy for the whole cold start, so a wave of cold starts raises the
    # concurrency that causes them: iterate to a fixed point (three rounds settle it).
    extra_s = max(float(params.cold_ms.mean() - params.warm_ms.mean()) / 1000.0, 0.0)
    cold, alive = _levels(counts, bin_s, load, params)
    for _ in range(3):
        cold, alive = _levels(counts, bin_s, load + np.minimum(cold, counts) / bin_s * extra_s, params)
    throttled = counts * erlang_b(params.concurrency_limit, load + np.minimum(cold, counts) / bin_s * extra_s)
    cold, throttled = _scale_out_capped(cold, throttled, bin_s, params.scale_out_per_10s)
    cold = np.minimum(cold, counts - throttled)
    answered = counts - throttled
    rng = np.random.default_rng(seed)
    latency_ms, which = np.empty(0), np.empty(0, dtype=np.int64)
    if answered.sum() > 0:
        m = int(min(sampled, max(answered.sum(), 1)))
        which = rng.choice(answered.size, size=m, p=answered / answered.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            p_cold = np.where(answered > 0, cold / answered, 0.0)[which]
        is_cold = rng.random(m) < p_cold
        latency_ms = np.where(is_cold, rng.choice(params.cold_ms, m), rng.choice(params.warm_ms, m))
    instances = np.maximum(alive + params.provisioned, np.minimum(load, params.concurrency_limit))
    return SimResult(option=params.name, mode="aggregated", requests=float(counts.sum()),
                     cold_starts=float(cold.sum()), throttled=float(throttled.sum()), failed=0.0,
                     latency_ms=latency_summary(latency_ms),
                     timeline=timeline(np.arange(counts.size) * bin_s, instances, counts, bin_s, which, latency_ms),
                     inputs=params.describe())


def _levels(counts: NDArray[np.float64], bin_s: float, load: NDArray[np.float64], params: LambdaParams
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Expected cold starts and environments alive per bin, summed over concurrency levels."""
    counted = bool(np.array_equal(counts, np.rint(counts)))  # a trace's counts, not a profile's expected ones
    window = max(1, round(params.keep_alive_s / bin_s))
    top = int(min(params.concurrency_limit, stats.poisson.ppf(1 - 1e-9, max(float(load.max()), 1e-9)) + 2))
    cold = np.zeros_like(counts)
    alive = np.zeros_like(counts)
    for first in range(params.provisioned + 1, top + 1, 64):
        levels = np.arange(first, min(first + 64, top + 1))
        # Each of a bin's requests finds exactly k - 1 busy with probability q; the bin reaches level k
        # at least once with probability 1 - (1 - q)^n for n requests counted, 1 - exp(-n·q) for n
        # expected (a rate profile). `reach` is -log of the chance that it does not.
        q = np.minimum(stats.poisson.pmf(levels[None, :] - 1, load[:, None]), 1.0 - 1e-12)
        reach = -counts[:, None] * np.log1p(-q) if counted else counts[:, None] * q
        csum = np.vstack([np.zeros((1, levels.size)), np.cumsum(reach, axis=0)])
        before = csum[:-1] - csum[np.maximum(np.arange(counts.size) - window, 0)]  # reaches in the window before
        if bin_s > params.keep_alive_s:  # bins longer than the keep-alive: churn within the bin
            per_s = counts[:, None] * q / bin_s
            cold += (per_s * bin_s * np.exp(-per_s * params.keep_alive_s)).sum(axis=1)
        else:
            cold += (np.exp(-before) * -np.expm1(-reach)).sum(axis=1)
        alive += -np.expm1(-(before + reach)).sum(axis=1)
    return cold, alive


def _scale_out_capped(cold: NDArray[np.float64], throttled: NDArray[np.float64], bin_s: float, per_10s: int
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """New environments beyond the scale-out token bucket are throttles instead."""
    refill = per_10s / 10.0 * bin_s
    if (cold <= refill).all() and cold[: max(1, int(10 / bin_s))].sum() <= per_10s:
        return cold, throttled
    cold, throttled = cold.copy(), throttled.copy()
    tokens = float(per_10s)
    for b in range(cold.size):
        tokens = min(float(per_10s), tokens + refill) if b else tokens
        allowed = min(cold[b], tokens)
        throttled[b] += cold[b] - allowed
        cold[b] = allowed
        tokens -= allowed
    return cold, throttled


def _forward_fill(values: NDArray[np.float64], *, start: float) -> NDArray[np.float64]:
    """Bins without a request (-1) keep the last known value."""
    filled = values.copy()
    known = filled >= 0
    if not known.any():
        return np.full_like(filled, start)
    index = np.where(known, np.arange(filled.size), 0)
    np.maximum.accumulate(index, out=index)
    filled = filled[index]
    filled[: int(np.argmax(known))] = start
    return filled
