"""Emulator benchmark: what a cold start costs the prediction handler compared with hello world.

For each function (a hello-world handler; the prediction handler, native door with the lean
pure-Python runtime, with ONNX and with scikit-learn; the ASGI door with ONNX and scikit-learn), in one
run: INIT p50 over N forced cold starts
(keep-alive 0, after one discarded cold start that fills the file cache; the functions take turns,
so a slow spell on a shared machine hits them alike), warm p50/p99 over
sequential requests on one connection, and the emulator's own overhead (warm round trip through the
emulator minus the same handler called in-process; it includes the HTTP client and the real runtime
client's two round trips, and for the prediction handlers the log and EMF lines they print).
Prints the ratios INIT(prediction)/INIT(hello world) and INIT(onnx)/INIT(sklearn), and checks two
targets: INIT(native/lean) ≤ 2× INIT(hello world), and the lean handler's warm duration (in-process
p50, what Lambda bills) ≤ 2× the native ONNX handler's.
All figures: measured here (local emulator, CPU share as configured; see the header line).
Run: `python -m benchmarks.emulator_bench [--cold 20] [--warm 200] [--memory-mb 1769]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httptools
from rich.console import Console
from rich.table import Table

from benchmarks.stats import median, percentile

HELLO = '''import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"ok": True})}
'''
VARIANTS = [("hello world", None, None), ("native / lean", "native", "lean"), ("native / onnx", "native", "onnx"),
            ("native / sklearn", "native", "sklearn"), ("asgi / onnx", "asgi", "onnx"),
            ("asgi / sklearn", "asgi", "sklearn")]


HANDLER_ROUNDS = 5


@dataclass
class Result:
    init_ms: list[float]
    warm_ms: list[float]
    handler_ms: float | None
    max_memory_mb: int


def ensure_package(bundle: Path, door: str, runtime: str) -> tuple[Path, str]:
    from twinserve.packaging import ensure_local_package, read_package_report

    report = read_package_report(ensure_local_package(bundle, door, runtime)) or {}
    return Path(report["package_dir"]), report["handler"]


def request(conn: http.client.HTTPConnection, body: bytes) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    conn.request("POST", "/predict", body=body, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    elapsed = (time.perf_counter() - start) * 1000
    if resp.status != 200:
        raise SystemExit(f"unexpected status {resp.status}")
    return elapsed, {k.lower(): v for k, v in resp.getheaders()}


def warm_round_trips_ms(port: int, body: bytes, count: int) -> list[float]:
    """Sequential warm requests on one keep-alive connection, timed by the leanest client there is:
    a blocking socket sending one pre-encoded request and reading one Content-Length-framed answer
    (about 40 µs of CPU per request, against about 110 µs for the harness's asyncio client and 200 µs
    for http.client). On a 2-core machine the client's CPU competes with the emulator and the
    runtime, so a heavier client would be counted as emulator overhead."""
    from benchmarks.harness.loadgen import encode_request

    request_bytes = encode_request("POST", "/predict", body)
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(21 + count):  # the cold one and 20 to warm up, then the measured ones
            start = time.perf_counter()
            sock.sendall(request_bytes)
            status = _read_response(sock)
            elapsed = (time.perf_counter() - start) * 1000
            if status != 200:
                raise SystemExit(f"unexpected status {status}")
            if i >= 21:
                times.append(elapsed)
    return times


class _Done:
    """httptools callbacks for one response: done once the message is complete."""

    complete = False

    def on_message_complete(self) -> None:
        self.complete = True


def _read_response(sock: socket.socket) -> int:
    """Read one whole HTTP/1.1 response (httptools, as the emulator and the load generator parse);
    return its status."""
    done = _Done()
    parser = httptools.HttpResponseParser(done)
    while not done.complete:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the emulator closed the connection")
        parser.feed_data(chunk)
    return int(parser.get_status_code())


def in_process_handler_ms(code: Path, handler: str, event: dict[str, object], runtime: str | None) -> float:
    """The same handler called directly in a fresh interpreter: the baseline for emulator overhead."""
    import subprocess

    script = f"""
import json, os, sys, time
sys.path.insert(0, {str(code)!r})
os.environ.setdefault("MODEL_RUNTIME", {runtime or 'onnx'!r})
module, fn = {handler!r}.rsplit(".", 1)
h = getattr(__import__(module, fromlist=[fn]), fn)
class Ctx:
    aws_request_id = "x"; function_name = "f"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    def get_remaining_time_in_millis(self): return 3000
event = json.loads({json.dumps(json.dumps(event))})
for _ in range(50): h(event, Ctx())
times = []
for _ in range(300):
    s = time.perf_counter(); h(event, Ctx()); times.append((time.perf_counter() - s) * 1000)
times.sort(); print(times[len(times) // 2])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=code)
    return float(out.stdout.strip().splitlines()[-1])


@dataclass
class Variant:
    name: str
    code: Path
    handler: str
    runtime: str | None


def measure_cold(variants: list[Variant], *, body: bytes, cold: int,
                 memory_mb: int) -> tuple[dict[str, tuple[list[float], int]], dict[str, object]]:
    """INIT of `cold` forced cold starts per variant, taken in turns (one of each, then again), so a
    slow spell on this shared machine falls on every variant alike instead of on whichever was
    running; each cold start runs alone (the previous environment is gone first). Each variant has
    its own emulator process (keep-alive 0), as `twinserve emulate` runs it. Returns name ->
    (INIT ms list, max memory MB), and the emulator's settings."""
    from benchmarks.harness.targets import LocalLambdaTarget

    targets = {v.name: LocalLambdaTarget(package=v.code, handler=v.handler, runtime=v.runtime or "onnx",
                                         memory_mb=memory_mb, keep_alive_s=0, timeout_s=30) for v in variants}
    inits: dict[str, list[float]] = {name: [] for name in targets}
    request_ids: dict[str, list[str]] = {name: [] for name in targets}
    conns: dict[str, http.client.HTTPConnection] = {}
    try:
        for name, target in targets.items():
            target.start()
            conns[name] = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
        # One discarded cold start each first: right after a package build its files are still read
        # from disk, which would charge that variant for the file cache, not for its INIT.
        for round_no in range(cold + 1):
            for name, target in targets.items():
                _, headers = request(conns[name], body)
                wait_until_no_environment(target.port)
                if round_no:
                    inits[name].append(float(headers["x-emulator-init-ms"]))
                    request_ids[name].append(headers["x-emulator-request-id"])
        info = next(iter(targets.values())).describe()["emulator"]
        out = {}
        for name, target in targets.items():
            reports = target.reports()
            memory = max((reports[r].max_memory_used_mb for r in request_ids[name] if r in reports), default=0)
            out[name] = (inits[name], memory)
        return out, info
    finally:
        for conn in conns.values():
            conn.close()
        for target in targets.values():
            target.stop()


def wait_until_no_environment(port: int, timeout_s: float = 5.0) -> None:
    """Until the emulator has torn down the environment it just used (keep-alive 0)."""
    deadline = time.monotonic() + timeout_s
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        while time.monotonic() < deadline:
            conn.request("GET", "/_emulator/info")
            if not json.loads(conn.getresponse().read())["environments"]:
                return
            time.sleep(0.005)
    finally:
        conn.close()


def measure_warm(variant: Variant, *, body: bytes, warm: int, memory_mb: int) -> list[float]:
    """Sequential warm requests through one emulator process (it shares no GIL with this client)."""
    from benchmarks.harness.targets import LocalLambdaTarget

    target = LocalLambdaTarget(package=variant.code, handler=variant.handler, runtime=variant.runtime or "onnx",
                               memory_mb=memory_mb, timeout_s=30)
    target.start()
    try:
        return warm_round_trips_ms(target.port, body, warm)
    finally:
        target.stop()


def handler_baseline_ms(variant: Variant, body: bytes) -> float:
    from twinserve.emulator.frontdoor import api_gateway_event
    from twinserve.emulator.httpserver import Request

    api_event = api_gateway_event(Request("POST", "/predict", "", {"content-type": "application/json"}, body), "http")
    return in_process_handler_ms(variant.code, variant.handler, api_event, variant.runtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=Path("build/bundles/default"))
    parser.add_argument("--cold", type=int, default=20, help="forced cold starts per function")
    parser.add_argument("--warm", type=int, default=200, help="sequential warm requests per function")
    parser.add_argument("--memory-mb", type=int, default=1769, help="function memory (1769 MB = 1 vCPU)")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        raise SystemExit(f"no bundle at {args.bundle}: run `twinserve train --out {args.bundle}` first")
    import prediction_core

    example = prediction_core.load(args.bundle, "sklearn").schema.example_instance()
    body = json.dumps({"instances": [example]}).encode()
    console = Console(width=max(Console().width, 120))
    results: dict[str, Result] = {}
    info: dict[str, object] = {}
    hello_dir = Path("build/lambda/hello-world")
    hello_dir.mkdir(parents=True, exist_ok=True)
    (hello_dir / "hello.py").write_text(HELLO)
    variants = []
    for name, door, runtime in VARIANTS:
        if args.only and name not in args.only:
            continue
        with console.status(f"{name}: preparing…"):
            if door is None or runtime is None:
                variants.append(Variant(name, hello_dir, "hello.handler", None))
            else:
                variants.append(Variant(name, *ensure_package(args.bundle, door, runtime), runtime))
    with console.status(f"{args.cold} cold starts of each of {len(variants)} functions, in turns…"):
        colds, info = measure_cold(variants, body=body, cold=args.cold, memory_mb=args.memory_mb)
    # In-process handler times vary by 2x between interpreters on this shared machine: each variant
    # gets several fresh interpreters, in turns, and the median of their medians counts.
    handler_runs: dict[str, list[float]] = {v.name: [] for v in variants}
    with console.status(f"{HANDLER_ROUNDS} in-process handler runs of each function, in turns…"):
        for _ in range(HANDLER_ROUNDS):
            for variant in variants:
                handler_runs[variant.name].append(handler_baseline_ms(variant, body))
    for variant in variants:
        with console.status(f"{variant.name}: {args.warm} warm requests…"):
            warm_ms = measure_warm(variant, body=body, warm=args.warm, memory_mb=args.memory_mb)
            init_ms, memory_mb = colds[variant.name]
            results[variant.name] = Result(init_ms, warm_ms, median(handler_runs[variant.name]), memory_mb)
    console.print(f"emulator: memory {info.get('memory_mb')} MB, {info.get('cpu')}, memory "
                  f"{info.get('memory_enforcement')}, Python {info.get('python')} (measured here)", highlight=False)
    table = Table(title=f"cold and warm invokes through the local emulator, medians ({args.cold} cold starts, "
                        f"{args.warm} warm requests each)")
    for col in ("function", "INIT p50 ms", "INIT p90 ms", "max memory MB", "warm p50 ms", "warm p99 ms",
                "handler in-process ms", "emulator overhead ms"):
        table.add_column(col, justify="left" if col == "function" else "right")
    for name, r in results.items():
        warm50 = percentile(r.warm_ms, 50)
        overhead = warm50 - (r.handler_ms or 0.0)
        table.add_row(name, f"{median(r.init_ms):.1f}", f"{percentile(r.init_ms, 90):.1f}", str(r.max_memory_mb),
                      f"{warm50:.2f}", f"{percentile(r.warm_ms, 99):.2f}", f"{r.handler_ms:.3f}", f"{overhead:.3f}")
    console.print(table)

    def init(name: str) -> float | None:
        return median(results[name].init_ms) if name in results else None

    ratios = Table(title="INIT ratios (same run)")
    ratios.add_column("ratio")
    ratios.add_column("value", justify="right")
    hello = init("hello world")
    for name in ("native / lean", "native / onnx", "native / sklearn", "asgi / onnx", "asgi / sklearn"):
        value = init(name)
        if hello and value:
            ratios.add_row(f"INIT({name}) / INIT(hello world)", f"{value / hello:.2f}")
    for door in ("native", "asgi"):
        onnx, sk = init(f"{door} / onnx"), init(f"{door} / sklearn")
        if onnx and sk:
            ratios.add_row(f"INIT({door} onnx) / INIT({door} sklearn)", f"{onnx / sk:.2f}")
    console.print(ratios)
    onnx, sk = init("native / onnx"), init("native / sklearn")
    if onnx and sk:
        verdict = "meets" if onnx / sk <= 0.25 else "misses"
        console.print(f"target: native ONNX INIT ≤ 0.25 of native scikit-learn INIT → {onnx / sk:.2f} ({verdict})")
    lean = init("native / lean")
    if lean and hello:
        verdict = "meets" if lean / hello <= 2.0 else "misses"
        console.print(f"target: native lean INIT ≤ 2.0× hello world INIT → {lean / hello:.2f} ({verdict})")
    if "native / lean" in results and "native / onnx" in results:
        lean_ms, onnx_ms = results["native / lean"].handler_ms, results["native / onnx"].handler_ms
        if lean_ms and onnx_ms:
            verdict = "meets" if lean_ms / onnx_ms <= 2.0 else "misses"
            console.print(f"target: native lean warm duration ≤ 2.0× native ONNX → {lean_ms:.3f} ms / "
                          f"{onnx_ms:.3f} ms = {lean_ms / onnx_ms:.2f} ({verdict})")
    if "hello world" in results:
        hello_result = results["hello world"]
        overhead = percentile(hello_result.warm_ms, 50) - (hello_result.handler_ms or 0.0)
        verdict = "meets" if overhead < 1.0 else "misses"
        console.print(f"target: warm-invoke overhead (hello world) < 1 ms → {overhead:.2f} ms ({verdict})")


if __name__ == "__main__":
    main()
