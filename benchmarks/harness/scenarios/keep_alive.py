"""Keep-alive probe (AWS only): after idle gaps of 1, 5, 15, 30 and 60 minutes, is the next request
cold? Shows when Lambda reclaims idle environments (undocumented; 5-60 min seen by third parties).
Takes about two hours; run it on its own: `twinserve bench --target aws --scenario keep-alive`."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness.context import Context


def run(ctx: Context) -> dict[str, Any]:
    ctx.send(step="prime")
    results = {}
    for gap in ctx.options.keep_alive_gaps_min:
        time.sleep(gap * 60)
        rec = ctx.send(step=gap)
        ctx.join_reports([rec])
        results[f"{gap:g} min"] = {"cold": rec.cold, "latency_ms": rec.latency_ms}
        ctx.progress(1)
    return {"gaps": results}
