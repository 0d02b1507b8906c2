"""Raise the open-loop rate step by step until p99 passes the SLO, errors appear, or the target
falls behind; the last step that held is the maximum sustainable rate."""

from __future__ import annotations

from typing import Any

from benchmarks.harness.context import Context
from benchmarks.harness.loadgen import open_loop
from benchmarks.stats import percentile

GROWTH = 1.5


def run(ctx: Context) -> dict[str, Any]:
    rate = ctx.options.saturation_start_per_s
    request = ctx.request()
    ctx.run(ctx.client.send(request))  # warm up
    sustained: float | None = None
    stopped_by = "step limit"
    envs_at_max: int | None = None
    for _ in range(ctx.options.saturation_max_steps):
        replies = ctx.run(open_loop(ctx.client, lambda i: request, rate_per_s=rate,
                                    duration_s=ctx.options.saturation_step_s))
        records = [ctx.record(r, step=round(rate, 2)) for r in replies]
        ctx.progress(1)
        ok = [r for r in records if r.status == 200]
        p99 = percentile([r.latency_ms for r in ok], 99) if ok else float("inf")
        if len(ok) < len(records):
            stopped_by = f"errors at {rate:.0f}/s ({len(records) - len(ok)} of {len(records)})"
            break
        if p99 > ctx.options.slo_p99_ms:
            stopped_by = f"p99 {p99:.1f} ms > SLO {ctx.options.slo_p99_ms:.0f} ms at {rate:.0f}/s"
            break
        sustained = rate
        envs_at_max = len({r.env_id for r in records if r.env_id}) or None
        rate *= GROWTH
    findings: dict[str, Any] = {"max_sustainable_rate_per_s": sustained, "stopped_by": stopped_by,
                                "slo_p99_ms": ctx.options.slo_p99_ms}
    if sustained and ctx.target.kind == "container":
        findings["per_instance_rate_per_s"] = sustained  # one service instance (its workers) was measured
    if sustained and envs_at_max:
        findings["environments_at_max"] = envs_at_max
        findings["rate_per_concurrency_per_s"] = sustained / envs_at_max
    return findings
