"""Grow the batch until a limit stops it: Lambda's timeout, API Gateway's 30 s integration timeout,
the payload limit of the front door (6 MB through API Gateway and function URLs, 1 MB behind an
ALB), the 10,000-instance contract limit, or the container's own timeouts."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.harness.context import Context
from benchmarks.harness.records import Record
from benchmarks.harness.targets import FrontDoored
from prediction_core.aws_limits import door_limit_text
from prediction_core.contract import DEFAULT_MAX_BODY_BYTES

API_GATEWAY_MAX_BYTES = 10 * 1024 * 1024


def classify(rec: Record, timeout_s: float | None, payload: str = door_limit_text("http")) -> str | None:
    """Which limit a failed response hit, or None when the batch went through. The function's own
    word comes first: the emulator's error header locally, the REPORT line's Status and Error Type
    on AWS. Then the front door's status: HTTP API answers 503 on its 30 s integration timeout and
    500 on a function error; a REST API 504 on its 29 s timeout and 502 on a function error; an ALB
    502 on a function error and 504 when the target does not answer in time."""
    if rec.status == 200:
        return None
    error = rec.server.get("function_error") or rec.server.get("report_error_type") or ""
    if rec.status == 413 or error == "Function.ResponseSizeTooLarge":
        return payload
    if rec.status == 422:
        return "instance limit (10,000 per request)"
    if error == "Sandbox.Timedout" or rec.server.get("report_status") == "timeout":
        return f"Lambda timeout ({timeout_s:g} s)" if timeout_s else "Lambda timeout"
    if error == "Runtime.OutOfMemory":
        return "Lambda memory"
    if rec.status in (503, 504):
        return "front door timeout (API Gateway 29-30 s, or the load balancer's)"
    if rec.status in (500, 502):
        return f"function error{' ' + error if error else ''} (HTTP {rec.status} from the front door)"
    if rec.status == 0:
        return f"client timeout ({rec.error})"
    return f"HTTP {rec.status} {error}".strip()


def run(ctx: Context) -> dict[str, Any]:
    timeout_s = ctx.target.timeout_s if ctx.target.kind == "lambda" else None
    if ctx.target.kind == "lambda":
        payload = door_limit_text(ctx.target.front_door if isinstance(ctx.target, FrontDoored) else "http")
    else:
        payload = f"payload limit ({DEFAULT_MAX_BODY_BYTES / 2**20:g} MB, the service's contract)"
    largest_ok: int | None = None
    stopped: dict[str, Any] = {"stopped_by": "none up to the largest batch tried"}
    for size in ctx.options.limit_batches:
        body = ctx.body(size)
        if len(body) > API_GATEWAY_MAX_BYTES and ctx.target.kind == "lambda":
            stopped = {"stopped_by": "API Gateway payload limit (10 MB)", "at_batch": size, "body_bytes": len(body)}
            break
        rec = ctx.send(body, step=size)
        ctx.progress(1)
        limit = classify(rec, timeout_s, payload)
        if limit is None:
            largest_ok = size
            continue
        stopped = {"stopped_by": limit, "at_batch": size, "body_bytes": len(body), "status": rec.status}
        break
    ctx.join_reports()
    ok_bytes = len(ctx.body(largest_ok)) if largest_ok else None
    return {"largest_ok_batch": largest_ok, "largest_ok_body_bytes": ok_bytes, **stopped,
            "batches_tried": json.loads(json.dumps([r.step for r in ctx.records]))}
