"""One handler that fails the way the request asks: the reliability suite's Lambda fault matrix."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

if os.environ.get("FAIL_AT_IMPORT"):
    raise RuntimeError("configured to fail while the module is imported")


def handler(event: dict[str, Any], context: Any) -> Any:
    body = json.loads(event.get("body") or "{}")
    fault = body.get("fault", "none")
    if fault == "hold":  # a neighbour that keeps its environment busy while another one faults
        time.sleep(0.5)
    if fault == "raise":
        raise ValueError("the handler raised")
    if fault == "exit":
        os._exit(3)
    if fault == "sleep":
        time.sleep(60)
    if fault == "memory":
        held = [bytearray(1024 * 1024) for _ in range(400)]
        for block in held:
            block[::4096] = b"x" * len(block[::4096])
    if fault == "not_json":
        return {"statusCode": 200, "body": object()}
    if fault == "big":
        return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}
    if fault == "logs":
        for _ in range(4):
            sys.stdout.write("y" * (1024 * 1024) + "\n")  # 4 MB of log lines in one call
        sys.stdout.flush()
    if fault == "fork" and os.fork() == 0:  # the child outlives the invocation
        time.sleep(120)
        os._exit(0)
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"fault": fault, "pid": os.getpid()})}
