"""Sequential requests on a warm deployment (one connection, one request at a time)."""

from __future__ import annotations

from typing import Any

from benchmarks.harness.context import Context


def run(ctx: Context) -> dict[str, Any]:
    body = ctx.body()
    ctx.run(ctx.client.send(ctx.request(body)))  # warm up: not recorded
    for _ in range(ctx.options.warm_requests):
        ctx.send(body)
        ctx.progress(1)
    ctx.join_reports()
    return {"requests": len(ctx.records), "cold_in_warm_run": sum(1 for r in ctx.records if r.cold)}
