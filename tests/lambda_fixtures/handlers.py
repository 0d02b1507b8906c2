"""Small Lambda handlers for the emulator tests: each exercises one part of Lambda's model."""

from __future__ import annotations

import json
import os
import time
from typing import Any

INIT_STARTED = time.time()
_SLEEP_AT_INIT_S = float(os.environ.get("SLEEP_AT_INIT_S", "0"))
if _SLEEP_AT_INIT_S and not os.path.exists(os.environ.get("INIT_DONE_MARKER", "/nonexistent")):
    # Sleep only on the first attempt (the marker is written below), so a retried INIT is fast.
    marker = os.environ.get("INIT_DONE_MARKER")
    if marker:
        with open(marker, "w") as fh:
            fh.write("first attempt")
    time.sleep(_SLEEP_AT_INIT_S)
if os.environ.get("FAIL_AT_INIT"):
    raise RuntimeError("configured to fail during INIT")


def _http(body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body")
    if isinstance(body, str) and body:
        try:
            return dict(json.loads(body))
        except ValueError:
            return {}
    return event


def hello(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _http({"hello": "world", "request_id": context.aws_request_id, "pid": os.getpid(),
                  "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
                  "remaining_ms": context.get_remaining_time_in_millis()})


def echo(event: dict[str, Any], context: Any) -> Any:
    """Returns its event (direct invokes) with the client context it saw."""
    return {"event": event, "client_context": getattr(context.client_context, "custom", None)}


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(_payload(event).get("sleep_s", 0.5)))
    return _http({"slept": True, "pid": os.getpid()})


def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if _payload(event).get("crash"):
        os._exit(3)
    return _http({"alive": True, "pid": os.getpid()})


def hog(event: dict[str, Any], context: Any) -> dict[str, Any]:
    held = [bytearray(1024 * 1024) for _ in range(int(_payload(event).get("mb", 10)))]
    for block in held:
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is really resident
    return _http({"held_mb": len(held)})


def big_response(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _http({"blob": "x" * int(_payload(event).get("bytes", 7 * 1024 * 1024))})


def slow_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Work that grows with the batch (2 ms per instance), so a large batch meets the timeout."""
    instances = _payload(event).get("instances", [])
    time.sleep(0.002 * len(instances))
    return _http({"predictions": [{"label": "x"}] * len(instances)})


def cpu_bound(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A fixed amount of pure-Python work (no I/O, one thread), about 0.6 s of one core here: long
    enough to span many 100 ms CFS periods, so its duration follows the CPU share rather than where
    in a period it happened to start (a 30 ms job at 512 MB can take 1 to 3.5 periods)."""
    total = 0
    for i in range(int(os.environ.get("CPU_WORK_ITERATIONS", "6000000"))):
        total += i * i
    return _http({"total": total % 1000})


def hog_200(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Holds 200 MB: fits in 512 MB, not in 128 MB."""
    return hog({"mb": 200}, context)


def long_line(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One log line of 100 KiB (over asyncio's 64 KiB readline limit), then an ordinary one."""
    print("L" * 100 * 1024)
    print(f"after the long line {context.aws_request_id}")
    return _http({"ok": True})


def fork_child(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forks a child that outlives the invocation: in the runtime's process group, or in a session of
    its own (setsid) when FORK_SESSION is set; with RUNTIME_EXITS the runtime then dies itself."""
    pid = os.fork()
    if pid == 0:
        if os.environ.get("FORK_SESSION"):
            os.setsid()
        time.sleep(120)
        os._exit(0)
    if os.environ.get("RUNTIME_EXITS"):
        os._exit(5)
    return _http({"child": pid})


def chatty(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Writes lines up to the moment it returns (the last one names the request)."""
    for i in range(5):
        print(f"line {i} of {context.aws_request_id}")
    print(f"last line of {context.aws_request_id}", flush=False)
    return {"ok": True}


def fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError("always fails")


def meddler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Calls the Runtime API itself, as a misbehaving runtime would, and writes down what it answered:
    /init/error after INIT, a response for another request id, its own response twice, or too large."""
    import urllib.error
    import urllib.request

    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"

    def post(path: str, body: bytes) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(api + path, data=body, method="POST"), timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    own = f"/invocation/{context.aws_request_id}/response"
    seen: dict[str, int] = {}
    if event.get("too_large"):
        seen["too_large"] = post(own, b'"' + b"x" * (7 * 1024 * 1024) + b'"')
    else:
        seen["init_error_after_init"] = post("/init/error", b"{}")
        seen["other_request_id"] = post("/invocation/not-this-one/response", b"{}")
        seen["first_response"] = post(own, json.dumps({"answered": "by hand"}).encode())
        seen["second_response"] = post(own, b"{}")
    with open(event["record"], "w") as fh:
        json.dump(seen, fh)
    return {"returned": True}


def exits_after_answering(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers through the Runtime API by hand, then its process exits before it is back in /next
    (a runtime that crashes right after answering)."""
    import urllib.request

    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
    body = json.dumps(_http({"answered": True, "pid": os.getpid()})).encode()
    url = f"{api}/invocation/{context.aws_request_id}/response"
    urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5).read()
    os._exit(1)
