"""Memory sweep (power tuning): the same function at several memory sizes. Per size: forced cold
starts (INIT), warm durations from REPORT lines, billed duration, max memory used, and failures
(out of memory, timeouts), which are kept as results, never dropped. Locally each size is a new
emulator with a CPU quota of memory / 1,769 vCPU, capped at this machine's cores (said per size);
on AWS each size is a published version behind the alias. The function goes back to its own
memory size at the end."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from benchmarks.harness.context import Context
from benchmarks.harness.records import Record
from benchmarks.stats import median, percentile


def _failure(rec: Record) -> str | None:
    if 200 <= rec.status < 300:
        return None
    error = rec.server.get("function_error") or rec.server.get("report_error_type")
    if error:
        return str(error)
    if rec.server.get("report_status") == "timeout":
        return "Sandbox.Timedout"
    return f"HTTP {rec.status}" + (f" ({rec.error})" if rec.error else "")


def _figures(records: list[Record]) -> dict[str, Any]:
    """A size's figures: every request counts, as cold (a new environment, by the front door's or the
    REPORT line's word) or warm; durations and billing from the warm ones, INIT from the cold ones."""
    cold = [r for r in records if r.cold]
    warm = [r for r in records if not r.cold]
    durations = [r.server["report_duration_ms"] for r in warm if "report_duration_ms" in r.server and r.status == 200]
    billed = [r.server["billed_duration_ms"] for r in warm if "billed_duration_ms" in r.server and r.status == 200]
    inits = [v for v in (r.server.get("init_ms") or r.server.get("report_init_ms") or r.server.get("report_restore_ms")
                         for r in cold) if v is not None]
    memory = [r.server["max_memory_used_mb"] for r in cold + warm if "max_memory_used_mb" in r.server]
    failures = Counter(f for f in (_failure(r) for r in cold + warm) if f is not None)
    return {
        "duration_p50_ms": median(durations) if durations else None,
        "duration_p99_ms": percentile(durations, 99) if durations else None,
        "billed_p50_ms": median(billed) if billed else None,
        "init_p50_ms": median(inits) if inits else None,
        "max_memory_used_mb": max(memory) if memory else None,
        "warm_latency_ms": [r.latency_ms for r in warm if r.status == 200],
        "cold_latency_ms": [r.latency_ms for r in cold if r.status == 200 and r.cold],
        "failures": dict(failures), "requests": len(cold) + len(warm),
    }


def run(ctx: Context) -> dict[str, Any]:
    target = ctx.memory_configurable()
    by_memory: dict[str, dict[str, Any]] = {}
    try:
        for memory_mb in ctx.options.sweep_memory_mb:
            cpu = target.set_memory(memory_mb)
            ctx.reset_client()
            start = len(ctx.records)
            for i in range(ctx.options.sweep_cold_starts):
                if i:
                    ctx.force_cold()
                ctx.send(step=memory_mb)
            for _ in range(ctx.options.sweep_warm_requests):
                ctx.send(step=memory_mb)
            ctx.join_reports(ctx.records[start:])
            by_memory[str(memory_mb)] = {**_figures(ctx.records[start:]), **cpu}
            ctx.progress(1)
    finally:
        target.reset_memory()
        ctx.reset_client()
    capped = [m for m, v in by_memory.items() if v.get("cpu_capped")]
    return {"by_memory": by_memory, "source": ctx.target.source,
            "cpu_note": (f"CPU quota capped at this machine's {os.cpu_count()} cores for {', '.join(capped)} MB: "
                         "a handler that could use more CPU runs longer here than on AWS") if capped else None}
