"""What a cold start measured here would be on AWS (modeled, with its basis).

A local INIT is timed from process spawn: it is a lower bound of an AWS cold start, which also waits
for placement and for the package to be fetched. The estimate is the published hello-world INIT on
AWS for the same runtime, package type, architecture and memory size (lambda-perf, dated), plus what
this handler adds over a bare runtime start, measured here (the cold-start anatomy: imports, model
load, first prediction; that is, INIT minus the runtime's own start). No published source gives the
package fetch time by package size, so it is not added; the range says so by being the published
minimum to maximum.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from statistics import median
from typing import Any

DATA = Path(__file__).parent / "data" / "lambda-perf-python-2026-08-22.json"
AWS_PYTHON = "python3.12"  # what the packages are built for (twinserve package --target aws)
ANATOMY_INIT_PARTS = ("runtime_start_ms", "imports_ms", "model_load_ms", "first_predict_ms", "other_init_ms")


@lru_cache(maxsize=1)
def published() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def hello_world_row(*, package: str = "zip", arch: str = "x86_64", memory_mb: int = 1024,
                    runtime: str = AWS_PYTHON) -> dict[str, Any]:
    """The published row for the nearest memory size at or below `memory_mb` (the smallest above when
    none is below)."""
    rows = [r for r in published()["rows"] if (r["runtime"], r["package"], r["arch"]) == (runtime, package, arch)]
    if not rows:
        raise ValueError(f"no published hello-world cold start for {runtime} {package} {arch}")
    below = [r for r in rows if r["memory_mb"] <= memory_mb]
    return max(below, key=lambda r: r["memory_mb"]) if below else min(rows, key=lambda r: r["memory_mb"])


def handler_extra_ms(anatomy: dict[str, float], runtime_start_ms: float | None) -> float | None:
    """What the handler adds to INIT over a bare runtime start, from a cold-start anatomy."""
    init_ms = sum(anatomy.get(k, 0.0) for k in ANATOMY_INIT_PARTS)
    start = anatomy.get("runtime_start_ms", runtime_start_ms)
    if start is None or init_ms <= 0:
        return None
    return max(init_ms - start, 0.0)


def estimates(anatomies: dict[str, dict[str, float]], *, package: str = "zip", arch: str = "x86_64",
              memory_mb: int = 1024) -> list[dict[str, Any]]:
    """One row per measured target: its local INIT, the estimate on AWS with its range and basis."""
    row = hello_world_row(package=package, arch=arch, memory_mb=memory_mb)
    starts = [a["runtime_start_ms"] for a in anatomies.values() if "runtime_start_ms" in a]
    typical_start = median(starts) if starts else None
    out = []
    for target, anatomy in anatomies.items():
        local = sum(anatomy.get(k, 0.0) for k in ANATOMY_INIT_PARTS)
        extra = handler_extra_ms(anatomy, typical_start)
        if extra is None:
            out.append({"target": target, "local_init_ms": local, "aws_ms": None, "aws_low_ms": None,
                        "aws_high_ms": None, "basis": "no runtime start measured to subtract: not estimated"})
            continue
        out.append({
            "target": target, "local_init_ms": local, "aws_ms": row["avg_init_ms"] + extra,
            "aws_low_ms": row["min_init_ms"] + extra, "aws_high_ms": row["max_init_ms"] + extra,
            "source": "modeled",
            "basis": (f"published hello-world Init on AWS, {row['runtime']} {row['package']} {row['arch']} "
                      f"{row['memory_mb']} MB: mean {row['avg_init_ms']:.0f} ms, {row['min_init_ms']:.0f}-"
                      f"{row['max_init_ms']:.0f} ms over {row['n']} (lambda-perf, {published()['retrieved']}), "
                      f"plus this handler's {extra:.0f} ms over a bare runtime start, measured here"
                      + ("" if "runtime_start_ms" in anatomy else " (runtime start: the run's other targets')")
                      + "; package fetch not included (no published figure by size)")})
    return out
