"""Model-size sweep: RandomForest with 10/100/500 trees — artifact size versus cold start and memory.
Locally only: each size is trained (cached), swapped into the target, and cold-started N times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness.context import Context
from benchmarks.stats import median
from prediction_core.bundle import RUNTIME_FILES

SWEEP_CACHE = Path("build/bench-bundles")


def bundle_for(trees: int) -> Path:
    from prediction_core.training import train

    out = SWEEP_CACHE / f"breast-cancer-forest-{trees}"
    manifest = out / "manifest.json"
    # A cached bundle from before a runtime existed (no manifest entry for it) is trained again.
    if not manifest.is_file() or "lean" not in json.loads(manifest.read_text()):
        train("breast-cancer-forest", out=out, params={"trees": trees})
    return out


def run(ctx: Context) -> dict[str, Any]:
    target = ctx.target
    swappable = ctx.swappable()
    results = {}
    runtime = swappable.runtime
    try:
        for trees in ctx.options.sweep_trees:
            bundle = bundle_for(trees)
            artifact = bundle / RUNTIME_FILES[runtime]
            swappable.swap_model(bundle)
            ctx.reset_client()
            start = len(ctx.records)
            starts: list[dict[str, float]] = []
            for _ in range(max(2, ctx.options.cold_starts // 2)):
                ctx.force_cold()
                ctx.send(step=trees, cold=True if target.kind == "container" else None)
                starts.append(ctx.last_cold_path())
            mine = ctx.records[start:]
            ctx.join_reports(mine)
            inits = [r.server.get("init_ms") or r.server.get("report_init_ms") for r in mine]
            inits_known = [v for v in inits if v is not None]
            memory = [r.server["max_memory_used_mb"] for r in mine if "max_memory_used_mb" in r.server]
            results[str(trees)] = {
                "artifact_bytes": artifact.stat().st_size,
                "cold_latency_p50_ms": median([r.latency_ms for r in mine]),
                "init_p50_ms": median(inits_known) if inits_known else None,
                "max_memory_used_mb": max(memory) if memory else None,
                "ok": sum(1 for r in mine if r.status == 200),
            }
            healthy = [s["process_to_healthy_ms"] for s in starts if "process_to_healthy_ms" in s]
            if healthy:  # container: process start → healthy, the part the model size changes
                results[str(trees)]["process_to_healthy_p50_ms"] = median(healthy)
            ctx.progress(1)
    finally:
        swappable.restore_model()
        ctx.reset_client()
    return {"runtime": runtime, "by_trees": results}
