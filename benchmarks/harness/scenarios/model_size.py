"""Model-size sweep: the target's own tree ensemble at 10/100/500 trees (or stages) — artifact size
versus cold start and memory. Locally only: each size is built (cached), swapped into the target, and
cold-started N times. A model that is not a tree ensemble is skipped with the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.harness.context import Context
from benchmarks.stats import median
from prediction_core.bundle import RUNTIME_FILES

SWEEP_CACHE = Path("build/bench-bundles")


def sweep_bundles(bundle: Path | None, sizes: tuple[int, ...] | list[int]) -> tuple[dict[int, Path], str | None]:
    """The bundles to sweep, by number of trees (or boosting stages), all of the target's own model
    family, or a reason to skip: a forest recipe is trained again at each size (same data and seed);
    an imported or resized ensemble keeps its first N members (plus its own full size); any other
    model has no size to sweep. Built once and cached under build/bench-bundles."""
    from prediction_core.bundle import read_manifest
    from prediction_core.training import ensemble_size, resized_bundle, train

    if bundle is None or not (bundle / "manifest.json").is_file():
        return {}, "the target does not say which model bundle it serves"
    manifest = read_manifest(bundle)
    recipe = manifest.get("recipe") or {}
    if recipe.get("name") == "breast-cancer-forest":
        out = {}
        for trees in sizes:
            path = SWEEP_CACHE / f"breast-cancer-forest-{trees}-seed{manifest.get('seed')}"
            cached = path / "manifest.json"
            # A cached bundle from before a runtime existed (no manifest entry for it) is trained again.
            if not cached.is_file() or "lean" not in json.loads(cached.read_text()):
                train("breast-cancer-forest", out=path, seed=manifest.get("seed") or 0,
                      params={**(recipe.get("params") or {}), "trees": trees})
            out[trees] = path
        return out, None
    if "model.joblib" not in manifest["files"]:
        return {}, "the bundle has no model.joblib to derive smaller models from"
    import io

    import joblib

    from prediction_core.bundle import verify_file

    members = ensemble_size(joblib.load(io.BytesIO(verify_file(bundle, manifest, "model.joblib"))))
    if members is None:
        return {}, (f"the model ({manifest['name']}) is not a tree ensemble, so it has no number of trees to sweep; "
                    "model-size measures a forest's size against cold start and memory")
    out = {}
    for count in sorted({k for k in sizes if k < members} | {members}):
        path = SWEEP_CACHE / f"{manifest['name']}-{manifest['version']}-{count}"
        cached = path / "manifest.json"
        # Built again unless it offers every runtime the source offers (an older build may not).
        if not cached.is_file() or not set(manifest["files"]) <= set(json.loads(cached.read_text())["files"]):
            resized_bundle(bundle, count, out=path)
        out[count] = path
    return out, None


def run(ctx: Context) -> dict[str, Any]:
    target = ctx.target
    swappable = ctx.swappable()
    results: dict[str, dict[str, Any]] = {}
    runtime = swappable.runtime
    bundles, skipped = sweep_bundles(swappable.bundle, ctx.options.sweep_trees)
    lacking = [n for n, b in bundles.items()
               if RUNTIME_FILES[runtime] not in json.loads((b / "manifest.json").read_text())["files"]]
    if lacking:
        skipped = f"the {lacking[0]}-tree model has no {RUNTIME_FILES[runtime]} for runtime {runtime!r}"
    if skipped is not None:
        return {"runtime": runtime, "skipped": skipped, "by_trees": {}}
    try:
        for trees, bundle in bundles.items():
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
