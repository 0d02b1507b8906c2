"""Open-loop constant arrival rate for a duration; latency from each request's intended send time."""

from __future__ import annotations

from typing import Any

from benchmarks.harness.context import Context
from benchmarks.harness.loadgen import open_loop

DEFAULT_RATE_PER_S = {"lambda": 50.0, "container": 200.0}


def run(ctx: Context) -> dict[str, Any]:
    rate = ctx.options.rate_per_s or DEFAULT_RATE_PER_S[ctx.target.kind]
    request = ctx.request()
    replies = ctx.run(open_loop(ctx.client, lambda i: request, rate_per_s=rate,
                                duration_s=ctx.options.rate_duration_s, on_reply=lambda r: ctx.progress(1)))
    for reply in replies:
        ctx.record(reply, step=rate)
    span_s = max(r.done_s for r in replies) - min(r.intended_s for r in replies)
    ok = sum(1 for r in replies if r.status == 200)
    return {"intended_rate_per_s": rate, "achieved_rate_per_s": ok / span_s if span_s > 0 else None,
            "requests": len(replies), "errors": len(replies) - ok}
