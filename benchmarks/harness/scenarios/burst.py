"""K simultaneous requests against an idle deployment: cold starts, throttles, latency spread."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.harness.context import Context


def run(ctx: Context) -> dict[str, Any]:
    ctx.force_cold()
    k = ctx.options.burst_size
    request = ctx.request()

    async def burst() -> list[Any]:
        at = time.perf_counter()
        return list(await asyncio.gather(*(ctx.client.send(request, intended_s=at) for _ in range(k))))

    for reply in ctx.run(burst()):
        ctx.record(reply, step=k)
    ctx.progress(k)
    ctx.join_reports()
    return {"burst": k, "ok": sum(1 for r in ctx.records if r.status == 200),
            "cold_starts": sum(1 for r in ctx.records if r.cold),
            "throttled": sum(1 for r in ctx.records if r.status == 429),
            "errors": sum(1 for r in ctx.records if r.status >= 500 or r.status == 0)}
