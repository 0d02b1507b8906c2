"""What a simulation returns: counts, latency percentiles and a timeline, each labelled simulated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

Mode: TypeAlias = Literal["exact", "aggregated"]
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
MAX_TIMELINE_POINTS = 1_500


@dataclass
class SimResult:
    option: str
    mode: Mode
    requests: float
    cold_starts: float
    throttled: float
    failed: float  # answered with an error (a request that waited past the load balancer's timeout)
    latency_ms: dict[str, float]  # p50, p90, p99, p99.9, mean: answered requests, cold starts and queueing included
    timeline: dict[str, list[Any]]  # t_s, instances (environments or ready tasks), requests_per_s
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def p99_ms(self) -> float:
        return self.latency_ms["p99"]

    @property
    def cold_fraction(self) -> float:
        return self.cold_starts / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"option": self.option, "mode": self.mode, "requests": self.requests, "cold_starts": self.cold_starts,
                "throttled": self.throttled, "failed": self.failed, "latency_ms": self.latency_ms,
                "max_instances": max(self.timeline["instances"], default=0.0), "timeline": self.timeline,
                "inputs": self.inputs, "source": f"modeled (simulated, {self.mode} mode)"}


def latency_summary(latency_ms: NDArray[np.float64]) -> dict[str, float]:
    if latency_ms.size == 0:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "p99.9": float("nan"),
                "mean": float("nan")}
    values = np.percentile(latency_ms, PERCENTILES)
    out = {f"p{p:g}": float(v) for p, v in zip(PERCENTILES, values, strict=True)}
    out["mean"] = float(latency_ms.mean())
    return out


def timeline(t_s: NDArray[np.floating[Any]], instances: NDArray[np.float64], requests: NDArray[np.float64],
             bin_s: float, latency_bin: NDArray[np.int64] | None = None,
             latency_ms: NDArray[np.float64] | None = None) -> dict[str, list[Any]]:
    """Per-bin instances (the most in the bin), request rate and p99 latency (of the requests
    answered in the bin, or sampled from it), merged down to at most MAX_TIMELINE_POINTS points so
    a month stays chartable."""
    step = max(1, int(np.ceil(t_s.size / MAX_TIMELINE_POINTS)))
    usable = (t_s.size // step) * step
    if usable == 0:
        return {"t_s": [], "instances": [], "requests_per_s": [], "p99_ms": []}
    inst = instances[:usable].reshape(-1, step).max(axis=1)
    rate = requests[:usable].reshape(-1, step).sum(axis=1) / (bin_s * step)
    p99 = np.full(usable // step, np.nan)
    if latency_bin is not None and latency_ms is not None and latency_ms.size:
        point = np.minimum(latency_bin // step, p99.size - 1)
        order = np.lexsort((latency_ms, point))
        starts = np.searchsorted(point[order], np.arange(p99.size))
        ends = np.searchsorted(point[order], np.arange(p99.size), side="right")
        has = ends > starts
        picks = starts + np.floor((ends - starts - 1) * 0.99).astype(np.int64)
        p99[has] = latency_ms[order][picks[has]]
    return {"t_s": t_s[:usable:step].round(3).tolist(), "instances": inst.tolist(), "requests_per_s": rate.tolist(),
            "p99_ms": [None if np.isnan(v) else round(float(v), 3) for v in p99]}


def draw(samples_ms: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """`n` values drawn from measured (or fitted) samples, in seconds."""
    return np.asarray(rng.choice(samples_ms, size=n), dtype=np.float64) / 1000.0


def check_samples(name: str, samples_ms: NDArray[np.float64]) -> NDArray[np.float64]:
    values = np.asarray(samples_ms, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name}: needs at least one finite, non-negative latency in ms")
    return values
