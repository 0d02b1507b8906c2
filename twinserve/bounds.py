"""What every numeric option of the CLI accepts, in one table, checked before a command runs.

Every number must be finite (no nan, no inf) and, unless this table says otherwise, not negative:
a count, a size, a time or a rate. So a flag added later is checked too. Limits AWS sets come from
the dated limits data (prediction_core/data/aws-limits.json)."""

from __future__ import annotations

import math
from typing import Any

from prediction_core.aws_limits import LAMBDA

# option name (as the function's parameter) -> (minimum, maximum, what it is); None: unbounded.
BOUNDS: dict[str, tuple[float | None, float | None, str]] = {
    "memory_mb": (LAMBDA.memory_mb_min, LAMBDA.memory_mb_max, "Lambda's memory range, MB"),
    "timeout_s": (LAMBDA.timeout_s_min, LAMBDA.timeout_s_max, "Lambda's timeout range, s"),
    "ephemeral_mb": (512, 10_240, "Lambda's /tmp range, MB"),
    "port": (1, 65_535, "a TCP port"),
    "workers": (0, 512, "worker processes; 0: one per CPU"),
    "concurrency": (1, LAMBDA.account_concurrency * 1000, "concurrent environments"),
    "cold_fraction": (0.0, 1.0, "a share"),
    "spot_discount": (0.0, 0.95, "a share of the on-demand price"),
    "balanced_weight": (0.0, 1.0, "a weight"),
    "trees": (1, 10_000, "trees in the forest"),
    "c": (1e-9, None, "inverse regularisation strength (more than 0)"),
    "vcpu": (0.25, 16, "Fargate vCPUs"),
    "task_vcpu": (0, 16, "Fargate vCPUs (0: the whole machine)"),
    "task_memory_gb": (0.5, 120, "Fargate memory, GB"),
    "memory_gb": (0.5, 120, "Fargate memory, GB"),
    "storage_gb": (20, 200, "Fargate ephemeral storage, GB"),
    "peak_rps": (1e-9, 1e9, "a request rate (more than 0)"),
    "slo_ms": (1e-3, 3.6e6, "milliseconds (more than 0)"),
    "provisioned_hours": (0.0, 744.0, "hours in a month"),
    "hours": (0.0, 744.0, "hours in a month"),
}
DEFAULT_BOUNDS: tuple[float | None, float | None, str] = (0, None, "not negative")


def problem(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for option `name`, or None. Booleans and non-numbers pass."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    flag = "--" + name.replace("_", "-")
    if isinstance(value, float) and not math.isfinite(value):
        return f"{flag} must be a finite number, got {value}"
    low, high, what = BOUNDS.get(name, DEFAULT_BOUNDS)
    if (low is not None and value < low) or (high is not None and value > high):
        span = (f"{low:g} to {high:g}" if high is not None else f"at least {low:g}") if low is not None \
            else f"at most {high:g}"
        return f"{flag} must be {span} ({what}), got {value:g}"
    return None
