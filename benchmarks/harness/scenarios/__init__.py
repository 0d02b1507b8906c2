"""Scenario registry: name → (run function, target kinds it applies to, one-line description).
A scenario takes a Context, records requests through it, and returns its findings (a dict)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.harness.context import Context
from benchmarks.harness.scenarios import burst, cold_start, keep_alive, limits, model_size, rate, saturation, warm


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Context], dict[str, Any]]
    kinds: tuple[str, ...]  # target kinds: "lambda", "container"
    sources: tuple[str, ...]  # "measured-local", "measured-aws"
    description: str
    forces_cold: bool = False  # needs target.force_cold()


BOTH = ("lambda", "container")
ANYWHERE = ("measured-local", "measured-aws")
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("cold-start", cold_start.run, BOTH, ANYWHERE, "N forced cold starts, and what each is made of", True),
    Scenario("warm", warm.run, BOTH, ANYWHERE, "sequential requests on a warm deployment: p50/p90/p99/max"),
    Scenario("burst", burst.run, BOTH, ANYWHERE, "K simultaneous requests against an idle deployment", True),
    Scenario("rate", rate.run, BOTH, ANYWHERE, "open-loop constant arrival rate (no coordinated omission)"),
    Scenario("saturation", saturation.run, BOTH, ANYWHERE, "raise the rate until p99 passes the SLO or errors"),
    Scenario("limits", limits.run, BOTH, ANYWHERE, "grow the batch until a time or payload limit stops it"),
    Scenario("model-size", model_size.run, BOTH, ("measured-local",), "forest 10/100/500 trees: size vs cold start",
             True),
    Scenario("keep-alive", keep_alive.run, ("lambda",), ("measured-aws",),
             "idle gaps of 1-60 min: when are environments reclaimed (AWS only, hours)"),
)}
DEFAULT_ORDER = ("cold-start", "warm", "burst", "rate", "saturation", "limits", "model-size")


def applicable(name: str, target: object) -> bool:
    s = SCENARIOS[name]
    kind, source = getattr(target, "kind", ""), getattr(target, "source", "")
    if s.forces_cold and not getattr(target, "can_force_cold", True):
        return False
    return kind in s.kinds and source in s.sources
