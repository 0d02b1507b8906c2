"""Scenario registry: name → run function, the target kinds, sources and capabilities it needs, and
how many steps it expects (for the progress bar). A scenario takes a Context, records requests
through it, and returns its findings (a dict)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.harness.context import Context, Options
from benchmarks.harness.scenarios import (
    burst,
    cold_start,
    keep_alive,
    limits,
    memory_sweep,
    model_size,
    rate,
    saturation,
    warm,
)
from benchmarks.harness.targets import ColdStartable, MemoryConfigurable, ModelSwappable, Source, Target, TargetKind


def _no_steps(options: Options) -> int:
    return 0  # open-ended (rate, saturation): the bar counts requests


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Context], dict[str, Any]]
    kinds: tuple[TargetKind, ...]
    sources: tuple[Source, ...]
    description: str
    needs: tuple[type, ...] = ()  # capability protocols the target must implement
    steps: Callable[[Options], int] = _no_steps

    def applies_to(self, target: Target) -> bool:
        return (target.kind in self.kinds and target.source in self.sources
                and all(isinstance(target, need) for need in self.needs))


BOTH: tuple[TargetKind, ...] = ("lambda", "container")
ANYWHERE: tuple[Source, ...] = ("measured-local", "measured-aws")
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("cold-start", cold_start.run, BOTH, ANYWHERE, "N forced cold starts, and what each is made of",
             needs=(ColdStartable,), steps=lambda o: o.cold_starts),
    Scenario("warm", warm.run, BOTH, ANYWHERE, "sequential requests on a warm deployment: p50/p90/p99/max",
             steps=lambda o: o.warm_requests),
    Scenario("burst", burst.run, BOTH, ANYWHERE, "K simultaneous requests against an idle deployment",
             needs=(ColdStartable,), steps=lambda o: o.burst_size),
    Scenario("rate", rate.run, BOTH, ANYWHERE, "open-loop constant arrival rate (no coordinated omission)"),
    Scenario("saturation", saturation.run, BOTH, ANYWHERE, "raise the rate until p99 passes the SLO or errors"),
    Scenario("limits", limits.run, BOTH, ANYWHERE, "grow the batch until a time or payload limit stops it",
             steps=lambda o: len(o.limit_batches)),
    Scenario("model-size", model_size.run, BOTH, ("measured-local",), "forest 10/100/500 trees: size vs cold start",
             needs=(ColdStartable, ModelSwappable), steps=lambda o: len(o.sweep_trees)),
    Scenario("memory-sweep", memory_sweep.run, ("lambda",), ANYWHERE,
             "power tuning: cold starts, durations and memory used at each memory size",
             needs=(ColdStartable, MemoryConfigurable), steps=lambda o: len(o.sweep_memory_mb)),
    Scenario("keep-alive", keep_alive.run, ("lambda",), ("measured-aws",),
             "idle gaps of 1-60 min: when are environments reclaimed (AWS only, hours)",
             steps=lambda o: len(o.keep_alive_gaps_min)),
)}
DEFAULT_ORDER = ("cold-start", "warm", "burst", "rate", "saturation", "limits", "model-size", "memory-sweep")


def applicable(name: str, target: Target) -> bool:
    return SCENARIOS[name].applies_to(target)
