"""Replay benchmark: the simulator against a live replay of the same trace.

A 5-minute trace of bursts and pauses (Poisson arrivals at 3, 8 and 20 req/s for 8 s, then 14 s of
silence, longer than the keep-alive) is sent, open loop at each request's timestamp, through:
- the local emulator running the prediction function (native door, lean runtime) with concurrency 2
  and a 10 s keep-alive: every burst after a pause finds no environment, so it starts cold ones, and
  requests that arrive while both are still in INIT are throttled;
- the local container service as one task with one worker (a fixed fleet, no autoscaling).
Before the replay, each target is calibrated in the same run on another trace of the same kind
(another random draw, 130 s): its warm latencies become the simulator's service times and its cold
starts the cold-start latencies, so both carry this machine's conditions (two cold starts at once
share 2 cores here, which solitary forced cold starts would not show). The simulator's exact mode
then runs the test trace's timestamps with those samples and the same limits.

Printed side by side: cold starts, throttles, p50 and p99; targets: simulated cold starts within
±10% of the replay, p99 within ±25%. Figures: measured here and simulated (one run; this machine is
shared and noisy). Run: `python -m benchmarks.replay_bench [--seconds 300]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.harness.loadgen import Client, Reply, encode_request, new_event_loop, open_loop_at
from benchmarks.harness.targets import LocalContainerTarget, LocalLambdaTarget
from twinserve.simulator import FargateParams, LambdaParams, simulate_fargate_exact, simulate_lambda_exact

BURST_S, PAUSE_S = 8.0, 14.0
RATES_PER_S = (3.0, 8.0, 20.0)
CONCURRENCY, KEEP_ALIVE_S = 2, 10.0
CALIBRATION_S, CALIBRATION_SEED = 130.0, 5


def trace(seconds: float, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times, t, i = [], 0.0, 0
    while t + BURST_S <= seconds:
        rate = RATES_PER_S[i % len(RATES_PER_S)]
        offsets = np.cumsum(rng.exponential(1.0 / rate, int(rate * BURST_S * 3)))
        times.append(t + offsets[offsets < BURST_S])
        t += BURST_S + PAUSE_S
        i += 1
    return np.concatenate(times)


def replay(port: int, body: bytes, times: np.ndarray) -> list[Reply]:
    request = encode_request("POST", "/predict", body)
    loop = new_event_loop()
    try:
        client = Client("127.0.0.1", port, connections=64)
        return loop.run_until_complete(open_loop_at(client, lambda i: request, times.tolist()))
    finally:
        loop.close()


def figures(latencies_ms: list[float], cold: int, throttled: int, requests: int) -> dict[str, float]:
    values = np.asarray(latencies_ms)
    return {"requests": requests, "cold": cold, "throttled": throttled, "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99))}


def lambda_side(bundle: Path, body: bytes, times: np.ndarray, calibration: np.ndarray
                ) -> tuple[dict[str, float], dict[str, float]]:
    from twinserve.packaging import ensure_local_package, read_package_report

    report = read_package_report(ensure_local_package(bundle, "native", "lean")) or {}
    target = LocalLambdaTarget(package=Path(report["package_dir"]), handler=report["handler"], runtime="lean",
                               concurrency=CONCURRENCY, keep_alive_s=KEEP_ALIVE_S)
    target.start()
    try:
        target.force_cold()
        calibrated = [r for r in replay(target.port, body, calibration) if r.status == 200]
        target.force_cold()
        replies = replay(target.port, body, times)
    finally:
        target.stop()
    warm_ms = [r.latency_ms for r in calibrated if r.headers.get("x-emulator-cold") != "true"]
    cold_ms = [r.latency_ms for r in calibrated if r.headers.get("x-emulator-cold") == "true"]
    ok = [r for r in replies if r.status == 200]
    live = figures([r.latency_ms for r in ok], sum(r.headers.get("x-emulator-cold") == "true" for r in ok),
                   sum(r.headers.get("x-emulator-throttled") == "true" for r in replies), len(replies))
    params = LambdaParams(warm_ms=np.asarray(warm_ms), cold_ms=np.asarray(cold_ms), concurrency_limit=CONCURRENCY,
                          keep_alive_s=KEEP_ALIVE_S)
    sim = simulate_lambda_exact(times, params)
    return live, {"requests": sim.requests, "cold": sim.cold_starts, "throttled": sim.throttled,
                  "p50": sim.latency_ms["p50"], "p99": sim.p99_ms}


def container_side(bundle: Path, body: bytes, times: np.ndarray, calibration: np.ndarray
                   ) -> tuple[dict[str, float], dict[str, float]]:
    target = LocalContainerTarget(bundle=bundle, runtime="onnx", workers=1)
    target.start()
    try:
        warm_ms = [r.latency_ms for r in replay(target.port, body, calibration) if r.status == 200]
        replies = replay(target.port, body, times)
    finally:
        target.stop()
    ok = [r for r in replies if r.status == 200]
    live = figures([r.latency_ms for r in ok], 0, 0, len(replies))
    params = FargateParams(service_ms=np.asarray(warm_ms), workers=1, min_tasks=1, max_tasks=1,
                           requests_per_target_per_min=None, cpu_target_percent=None)
    sim = simulate_fargate_exact(times, params)
    return live, {"requests": sim.requests, "cold": 0, "throttled": 0, "p50": sim.latency_ms["p50"],
                  "p99": sim.p99_ms}


def within(sim: float, live: float, tolerance: float) -> bool:
    return abs(sim - live) <= tolerance * max(live, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("build/bundles/default"))
    parser.add_argument("--seconds", type=float, default=300.0, help="trace length")
    parser.add_argument("--calibration-seconds", type=float, default=CALIBRATION_S,
                        help="length of the calibration trace (another draw of the same kind)")
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        raise SystemExit(f"no bundle at {args.bundle}: run `twinserve train --out {args.bundle}` first")
    import prediction_core

    example = prediction_core.load(args.bundle, "lean").schema.example_instance()
    body = json.dumps({"instances": [example]}).encode()
    times = trace(args.seconds)
    calibration = trace(args.calibration_seconds, seed=CALIBRATION_SEED)
    console = Console(width=max(Console().width, 110))
    with console.status(f"replaying {times.size} requests over {args.seconds:g} s through the emulator…"):
        lam_live, lam_sim = lambda_side(args.bundle, body, times, calibration)
    with console.status(f"replaying {times.size} requests over {args.seconds:g} s through the container service…"):
        con_live, con_sim = container_side(args.bundle, body, times, calibration)
    table = Table(title=f"Live replay (measured here) against the simulator (exact mode, same timestamps, "
                        f"calibrated in this run): {times.size} requests in {args.seconds:g} s")
    for col in ("target", "figure", "live", "simulated", "ratio", "target band", "verdict"):
        table.add_column(col, justify="left" if col in ("target", "figure", "target band", "verdict") else "right")
    checks = []
    for name, live, sim in (("emulator (concurrency 2, keep-alive 10 s)", lam_live, lam_sim),
                            ("container service (1 task, 1 worker)", con_live, con_sim)):
        for key, label, band in (("cold", "cold starts", 0.10), ("throttled", "throttles", None),
                                 ("p50", "p50 ms", None), ("p99", "p99 ms", 0.25)):
            if name.startswith("container") and key in ("cold", "throttled"):
                continue
            ratio = sim[key] / live[key] if live[key] else float("nan")
            verdict = ""
            if band is not None:
                ok = within(sim[key], live[key], band)
                checks.append(ok)
                verdict = "meets" if ok else "misses"
            table.add_row(name, label, f"{live[key]:,.1f}", f"{sim[key]:,.1f}", f"{ratio:.2f}",
                          f"±{band:.0%}" if band else "", verdict)
    console.print(table)
    console.print(f"{sum(checks)} of {len(checks)} targets met (cold starts ±10%, p99 ±25%).")


if __name__ == "__main__":
    main()
