"""Power tuning: which Lambda memory size to run, from a memory sweep's measured figures.

Lambda's price and its CPU both scale with memory (1,769 MB = one vCPU), so a larger size can be
cheaper per request when the handler is CPU-bound and finishes sooner. This module prices every
measured size on both architectures and picks one by a strategy, as AWS Lambda Power Tuning names
them (cheapest, fastest, balanced), plus the one a team asks for: the cheapest size whose p99,
cold starts included at the team's own traffic, meets the SLO. Pure functions; every figure says
whether it is measured or modeled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np

from cost_model.lambda_costs import MB_PER_GB, billed_duration_ms
from cost_model.prices import PriceBook

Strategy: TypeAlias = Literal["cheapest", "fastest", "balanced", "slo"]
STRATEGIES: tuple[Strategy, ...] = ("cheapest", "fastest", "balanced", "slo")
ARCHES = ("x86_64", "arm64")
NEAR_LIMIT_SHARE = 0.9  # max memory used above 90% of the size: flagged


@dataclass(frozen=True)
class SizeFigures:
    """What was measured at one memory size (durations from REPORT lines, latencies at the client)."""

    memory_mb: int
    duration_p50_ms: float | None
    duration_p99_ms: float | None
    billed_p50_ms: float | None
    init_p50_ms: float | None
    max_memory_used_mb: float | None
    warm_latency_ms: Sequence[float] = ()
    cold_latency_ms: Sequence[float] = ()
    failures: dict[str, int] = field(default_factory=dict)  # e.g. {"Runtime.OutOfMemory": 2}
    cpu_capped: bool = False  # the local CPU quota for this size was capped at the machine's cores
    source: str = "measured-local"

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.duration_p50_ms is None

    @property
    def near_memory_limit(self) -> bool:
        return self.max_memory_used_mb is not None and self.max_memory_used_mb >= NEAR_LIMIT_SHARE * self.memory_mb


def usd_per_invocation(prices: PriceBook, size: SizeFigures, *, arch: str, cold_fraction: float = 0.0) -> float:
    """Modeled: request price plus the billed GB-s at the first duration tier (warm billed duration,
    plus INIT on the cold fraction, billed since 2025-08)."""
    warm_billed = size.billed_p50_ms if size.billed_p50_ms is not None else size.duration_p50_ms
    if warm_billed is None:
        return float("nan")
    billed_ms = float(billed_duration_ms(warm_billed, size.init_p50_ms or 0.0, cold_fraction))
    first_tier_usd = prices.tiers(f"lambda.duration.{arch}")[0][1]
    return prices.usd("lambda.requests") + billed_ms / 1000.0 * size.memory_mb / MB_PER_GB * first_tier_usd


def mixture_quantile_ms(warm: Sequence[float], cold: Sequence[float], cold_fraction: float, q: float = 0.99
                        ) -> float | None:
    """The q-quantile of latency when a `cold_fraction` of requests are cold starts: the smallest x
    with (1 - f)·F_warm(x) + f·F_cold(x) >= q, from the empirical distributions."""
    if not warm and not cold:
        return None
    if not cold or cold_fraction <= 0:
        cold_fraction = 0.0
    if not warm:
        cold_fraction = 1.0
    candidates = np.sort(np.asarray(list(warm) + list(cold), dtype=np.float64))
    warm_sorted = np.sort(np.asarray(warm, dtype=np.float64))
    cold_sorted = np.sort(np.asarray(cold, dtype=np.float64))

    def cdf(sample: np.ndarray, x: np.ndarray) -> np.ndarray:
        if len(sample) == 0:
            return np.zeros_like(x)
        return np.searchsorted(sample, x, side="right") / len(sample)

    mixed = (1 - cold_fraction) * cdf(warm_sorted, candidates) + cold_fraction * cdf(cold_sorted, candidates)
    index = int(np.searchsorted(mixed, q - 1e-12, side="left"))
    return float(candidates[min(index, len(candidates) - 1)])


@dataclass(frozen=True)
class SizeRow:
    size: SizeFigures
    usd_per_invocation: dict[str, float]  # per architecture
    p99_with_cold_ms: float | None


@dataclass(frozen=True)
class Recommendation:
    strategy: Strategy
    arch: str
    memory_mb: int | None
    reason: str
    rows: list[SizeRow]
    inputs: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "arch": self.arch, "memory_mb": self.memory_mb, "reason": self.reason,
                "inputs": self.inputs, "sizes": [_row_dict(r) for r in self.rows]}


def _row_dict(row: SizeRow) -> dict[str, Any]:
    s = row.size
    return {"memory_mb": s.memory_mb, "duration_p50_ms": s.duration_p50_ms, "duration_p99_ms": s.duration_p99_ms,
            "billed_p50_ms": s.billed_p50_ms, "init_p50_ms": s.init_p50_ms, "max_memory_used_mb": s.max_memory_used_mb,
            "p99_with_cold_ms": row.p99_with_cold_ms, "failures": dict(s.failures), "cpu_capped": s.cpu_capped,
            "near_memory_limit": s.near_memory_limit, "source": s.source,
            "usd_per_invocation": row.usd_per_invocation,
            "usd_per_million": {a: v * 1e6 for a, v in row.usd_per_invocation.items()}}


def price_sizes(prices: PriceBook, sizes: Sequence[SizeFigures], *, cold_fraction: float = 0.0) -> list[SizeRow]:
    return [SizeRow(s, {arch: usd_per_invocation(prices, s, arch=arch, cold_fraction=cold_fraction) for arch in ARCHES},
                    mixture_quantile_ms(s.warm_latency_ms, s.cold_latency_ms, cold_fraction))
            for s in sorted(sizes, key=lambda s: s.memory_mb)]


def recommend(prices: PriceBook, sizes: Sequence[SizeFigures], *, strategy: Strategy = "slo", arch: str = "x86_64",
              slo_p99_ms: float = 100.0, cold_fraction: float = 0.0, balanced_weight: float = 0.5) -> Recommendation:
    """The memory size a strategy picks among the sizes that did not fail."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if arch not in ARCHES:
        raise ValueError(f"arch {arch!r} is not one of {', '.join(ARCHES)}")
    if not 0.0 <= balanced_weight <= 1.0:
        raise ValueError(f"balanced weight must be 0 (fastest) to 1 (cheapest), got {balanced_weight}")
    rows = price_sizes(prices, sizes, cold_fraction=cold_fraction)
    inputs = {"strategy": strategy, "arch": arch, "slo_p99_ms": slo_p99_ms, "cold_fraction": cold_fraction,
              "balanced_weight": balanced_weight, "prices": prices.path}
    ok = [r for r in rows if not r.size.failed]
    failed = [r.size.memory_mb for r in rows if r.size.failed]
    note = f"; {', '.join(map(str, failed))} MB failed and were not considered" if failed else ""
    if not ok:
        return Recommendation(strategy, arch, None, "no size completed without failures" + note, rows, inputs)

    def cost(r: SizeRow) -> float:
        return r.usd_per_invocation[arch]

    def speed(r: SizeRow) -> float:
        return float(r.size.duration_p50_ms or 0.0)

    picks: dict[Strategy, Callable[[], tuple[SizeRow | None, str]]] = {
        "cheapest": lambda: _pick(ok, key=lambda r: (cost(r), speed(r)),
                                  why=lambda r: f"lowest modeled cost ({_usd(cost(r))} on {arch})"),
        "fastest": lambda: _pick(ok, key=lambda r: (speed(r), cost(r)),
                                 why=lambda r: f"lowest measured duration p50 ({speed(r):.1f} ms)"),
        "balanced": lambda: _balanced(ok, cost, speed, balanced_weight),
        "slo": lambda: _slo(ok, cost, slo_p99_ms, cold_fraction, arch),
    }
    chosen, reason = picks[strategy]()
    return Recommendation(strategy, arch, chosen.size.memory_mb if chosen else None, reason + note, rows, inputs)


def _pick(rows: list[SizeRow], *, key: Callable[[SizeRow], tuple[float, float]],
          why: Callable[[SizeRow], str]) -> tuple[SizeRow | None, str]:
    best = min(rows, key=key)
    return best, why(best)


def _balanced(rows: list[SizeRow], cost: Callable[[SizeRow], float], speed: Callable[[SizeRow], float],
              weight: float) -> tuple[SizeRow | None, str]:
    """Power Tuning's balanced strategy: each of cost and duration divided by its largest value,
    weighted (0: fastest only, 1: cheapest only), the smallest sum wins."""
    max_cost = max(cost(r) for r in rows) or 1.0
    max_speed = max(speed(r) for r in rows) or 1.0
    best = min(rows, key=lambda r: weight * cost(r) / max_cost + (1 - weight) * speed(r) / max_speed)
    return best, (f"best weighted score at weight {weight:g} (cost {_usd(cost(best))}, duration p50 "
                  f"{speed(best):.1f} ms)")


def _slo(rows: list[SizeRow], cost: Callable[[SizeRow], float], slo_p99_ms: float, cold_fraction: float,
         arch: str) -> tuple[SizeRow | None, str]:
    meeting = [r for r in rows if r.p99_with_cold_ms is not None and r.p99_with_cold_ms <= slo_p99_ms]
    if not meeting:
        best = min((r for r in rows if r.p99_with_cold_ms is not None), key=lambda r: r.p99_with_cold_ms or 0.0,
                   default=None)
        closest = f"; the closest is {best.size.memory_mb} MB at {best.p99_with_cold_ms:.0f} ms" if best else ""
        return None, f"no size meets p99 ≤ {slo_p99_ms:g} ms with {cold_fraction:.2%} cold starts{closest}"
    chosen = min(meeting, key=lambda r: (cost(r), r.size.memory_mb))
    return chosen, (f"cheapest size whose p99 with {cold_fraction:.2%} cold starts ({chosen.p99_with_cold_ms:.1f} ms)"
                    f" meets the {slo_p99_ms:g} ms SLO, at {_usd(cost(chosen))} on {arch}")


def _usd(value: float) -> str:
    return f"${value * 1e6:,.2f} per million invocations"


def sizes_from_findings(findings: dict[str, Any]) -> list[SizeFigures]:
    """SizeFigures from a memory-sweep scenario's findings (summary.json / state.json)."""
    source = str(findings.get("source", "measured-local"))
    sizes = []
    for memory, f in findings.get("by_memory", {}).items():
        sizes.append(SizeFigures(
            memory_mb=int(memory), duration_p50_ms=f.get("duration_p50_ms"), duration_p99_ms=f.get("duration_p99_ms"),
            billed_p50_ms=f.get("billed_p50_ms"), init_p50_ms=f.get("init_p50_ms"),
            max_memory_used_mb=f.get("max_memory_used_mb"), warm_latency_ms=tuple(f.get("warm_latency_ms", ())),
            cold_latency_ms=tuple(f.get("cold_latency_ms", ())), failures=dict(f.get("failures", {})),
            cpu_capped=bool(f.get("cpu_capped")), source=source))
    return sizes


def sweep_findings(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The Lambda memory sweep of a run, if it has one."""
    findings: dict[str, dict[str, Any]] = summary.get("findings", {})
    return next((v for k, v in findings.items() if k.endswith("/memory-sweep") and v.get("by_memory")), None)


def apply_recommendation(inputs: Any, recommendation: Recommendation) -> None:
    """Use the tuned size in the cost model: its memory, and its measured duration and INIT."""
    if recommendation.memory_mb is None:
        inputs.provenance["lambda_memory_mb"] = (f"{inputs.lambda_memory_mb} MB as measured: the memory sweep found "
                                                 f"no size for strategy {recommendation.strategy} "
                                                 f"({recommendation.reason})")
        return
    row = next(r for r in recommendation.rows if r.size.memory_mb == recommendation.memory_mb)
    where = f"memory sweep ({row.size.source}), strategy {recommendation.strategy}: {recommendation.reason}"
    inputs.lambda_memory_mb = recommendation.memory_mb
    inputs.provenance["lambda_memory_mb"] = where
    if row.size.duration_p50_ms is not None:
        inputs.lambda_duration_ms = row.size.duration_p50_ms
        inputs.provenance["lambda_duration_ms"] = f"REPORT Duration p50 at {recommendation.memory_mb} MB ({where})"
    if row.size.init_p50_ms is not None:
        inputs.lambda_init_ms = row.size.init_p50_ms
        inputs.provenance["lambda_init_ms"] = f"Init Duration p50 at {recommendation.memory_mb} MB ({where})"


def tune_memory(prices: PriceBook, inputs: Any, summary: dict[str, Any], rates_per_s: Any, *,
                strategy: Strategy = "slo", balanced_weight: float = 0.5) -> dict[str, Any] | None:
    """The size a strategy picks from a run's memory sweep, for this traffic (its modeled cold
    fraction), applied to the cost model's inputs; None when the run has no memory sweep."""
    from cost_model.traffic import cold_start_fraction

    findings = sweep_findings(summary)
    if findings is None:
        return None
    cold = cold_start_fraction(rates_per_s, duration_ms=inputs.lambda_duration_ms,
                               keep_alive_min=inputs.keep_alive_min)
    rec = recommend(prices, sizes_from_findings(findings), strategy=strategy, arch=inputs.lambda_arch,
                    slo_p99_ms=inputs.slo_p99_ms, cold_fraction=cold, balanced_weight=balanced_weight)
    apply_recommendation(inputs, rec)
    return {**rec.as_dict(), "source": findings.get("source", "measured-local"), "cpu_note": findings.get("cpu_note"),
            "cold_fraction": cold}
