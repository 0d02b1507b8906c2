"""N forced cold starts. Lambda: a new environment each time (locally: idle ones dropped; on AWS:
a configuration change, as lambda-perf and SeBS force them). Container: the process restarted,
the counterpart of a Fargate scale-out once the image is on the host."""

from __future__ import annotations

from typing import Any

from benchmarks.harness.context import Context
from benchmarks.stats import median


def anatomy(server: dict[str, Any], latency_ms: float) -> dict[str, float]:
    """Split one cold request: runtime and interpreter start, imports, model load, first predict,
    invoke, and what the client saw beyond INIT + invoke (front door, network)."""
    metrics = server.get("metrics", {})
    init = server.get("init_ms") or server.get("report_init_ms") or server.get("report_restore_ms")
    if init is None:
        return {}
    invoke = server.get("duration_ms") or server.get("report_duration_ms") or 0.0
    if "InitTotalMs" not in metrics:  # a handler that publishes no INIT breakdown (the ASGI door)
        return {"other_init_ms": init, "invoke_ms": invoke, "front_door_ms": max(latency_ms - init - invoke, 0.0)}
    handler_init = metrics["InitTotalMs"]
    parts = {
        "runtime_start_ms": max(init - handler_init, 0.0),
        "imports_ms": metrics.get("HandlerImportMs", 0.0) + metrics.get("RuntimeImportMs", 0.0),
        "model_load_ms": metrics.get("ModelVerifyMs", 0.0) + metrics.get("ModelLoadMs", 0.0),
        "first_predict_ms": metrics.get("FirstPredictMs", 0.0),
        "invoke_ms": invoke,
    }
    parts["other_init_ms"] = max(handler_init - parts["imports_ms"] - parts["model_load_ms"]
                                 - parts["first_predict_ms"], 0.0)
    parts["front_door_ms"] = max(latency_ms - init - invoke, 0.0)
    return parts


def run(ctx: Context) -> dict[str, Any]:
    target = ctx.target
    parts: list[dict[str, float]] = []
    cold_paths: list[dict[str, float]] = []
    for i in range(ctx.options.cold_starts):
        ctx.force_cold()
        rec = ctx.send(step=i, cold=True if target.kind == "container" else None)
        if target.kind == "container":
            cold_paths.append({**ctx.last_cold_path(), "first_request_ms": rec.latency_ms})
        ctx.progress(1)
    ctx.join_reports()
    for rec in ctx.records:
        split = anatomy(rec.server, rec.latency_ms)
        if split:
            parts.append(split)
    # Counted from what happened (the front door's or the REPORT line's word), not from what was asked.
    findings: dict[str, Any] = {"forced": ctx.options.cold_starts,
                                "cold_starts": sum(1 for r in ctx.records if r.cold),
                                "cold_unknown": sum(1 for r in ctx.records if r.cold is None)}
    if parts:
        findings["anatomy_p50_ms"] = {k: median([p[k] for p in parts]) for k in parts[0]}
    if cold_paths:
        findings["container_cold_path_p50_ms"] = {k: median([c[k] for c in cold_paths]) for k in cold_paths[0]}
    return findings
