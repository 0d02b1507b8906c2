"""Service benchmark: the container service's /predict versus a bare Starlette endpoint, under wrk.

Both run with the same gunicorn + uvicorn worker setup; prints requests/s, p50/p99 and the ratio
service / bare from the same run (source: measured here). Needs `wrk` (Debian package `wrk`).
Run: `python -m benchmarks.service_bench [--bundle DIR] [--workers 1] [--seconds 5]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness.targets import free_port, stop_process, wait_http
from benchmarks.stats import median

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
"""
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def start(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gunicorn", "--worker-class", "uvicorn_worker.UvicornWorker", "--workers",
           str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app]
    if app.startswith("container_service"):
        cmd = [sys.executable, "-m", "container_service"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env, "TWINSERVE_HOST": "127.0.0.1",
                                      "TWINSERVE_PORT": str(port), "TWINSERVE_WORKERS": str(workers),
                                      "TWINSERVE_LOG_LEVEL": "warning"},
                            start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/predict", 30, proc)  # any answer (405 to GET) means it is up
    except RuntimeError as exc:
        stop(proc)
        raise SystemExit(f"{app} did not start on port {port}: {exc}") from None
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> WrkResult:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/predict"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(rps, p50, p99, int(non_2xx.group(1)) if non_2xx else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=Path("build/bundles/default"))
    parser.add_argument("--workers", type=int, default=1, help="workers per server (a single instance)")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--runtimes", nargs="+", choices=["onnx", "sklearn"], default=["onnx", "sklearn"],
                        help="model runtimes to serve (the bare endpoint always runs)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`")
    if not (args.bundle / "manifest.json").is_file():
        raise SystemExit(f"no bundle at {args.bundle}: run `twinserve train --out {args.bundle}` first")
    import prediction_core

    example = prediction_core.load(args.bundle, "sklearn").schema.example_instance()
    body = json.dumps({"instances": [example]})
    targets: dict[str, tuple[str, dict[str, str]]] = {"bare starlette": ("benchmarks.bare_app:app", {})}
    for runtime in args.runtimes:
        targets[f"service {runtime}"] = ("container_service", {"MODEL_BUNDLE": str(args.bundle),
                                                              "MODEL_RUNTIME": runtime})
    console = Console(width=max(Console().width, 110))
    results: dict[str, list[WrkResult]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=body))
        servers = {}
        try:
            for name, (app, env) in targets.items():
                port = free_port()
                servers[name] = (start(app, port, args.workers, env), port)
            for round_no in range(args.rounds):
                for name, (_, port) in servers.items():
                    with console.status(f"round {round_no + 1}/{args.rounds}: wrk → {name}…"):
                        results[name].append(run_wrk(port, script, args.seconds, args.connections))
        finally:
            for proc, _ in servers.values():
                stop(proc)
    bare_rps = median([r.rps for r in results["bare starlette"]])
    table = Table(title=f"POST /predict, 1 row, {args.workers} worker(s), wrk -c{args.connections}, "
                        f"{args.rounds}×{args.seconds}s (measured here, medians)")
    for col in ("target", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio to bare"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for name, runs in results.items():
        rps = median([r.rps for r in runs])
        table.add_row(name, f"{rps:,.0f}", f"{median([r.p50_ms for r in runs]):.2f}",
                      f"{median([r.p99_ms for r in runs]):.2f}", str(sum(r.non_2xx for r in runs)),
                      f"{rps / bare_rps:.2f}")
    console.print(table)
    if "service onnx" in results:
        onnx_ratio = median([r.rps for r in results["service onnx"]]) / bare_rps
        verdict = "meets" if onnx_ratio >= 0.6 else "misses"
        console.print(f"target: service onnx ≥ 0.60 of bare → {onnx_ratio:.2f} ({verdict})")


if __name__ == "__main__":
    main()
