"""Simulator benchmark: one day at 1,000 req/s (86.4 million requests) through both options in the
aggregated mode, against the exact mode's speed on one million requests measured in the same run.
Target: the day in under 60 s. Figures: measured here (one run; this machine is shared and noisy).
Run: `python -m benchmarks.sim_bench [--rate 1000] [--hours 24]`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twinserve.simulator import (
    FargateParams,
    LambdaParams,
    arrivals_from_counts,
    simulate_fargate_aggregated,
    simulate_fargate_exact,
    simulate_lambda_aggregated,
    simulate_lambda_exact,
)

TARGET_S = 60.0
EXACT_REQUESTS = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="mean requests per second")
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    seconds = int(args.hours * 3600)
    t = np.arange(seconds)
    counts = rng.poisson(args.rate * (1 + 0.5 * np.sin(2 * np.pi * t / 86_400)), seconds).astype(np.float64)
    lam = LambdaParams(warm_ms=rng.lognormal(np.log(8.0), 0.3, 10_000), cold_ms=rng.normal(250, 40, 500).clip(50))
    far = FargateParams(service_ms=rng.lognormal(np.log(4.0), 0.3, 10_000), workers=1, min_tasks=2, max_tasks=100,
                        requests_per_target_per_min=6000)
    start = time.perf_counter()
    lam_day = simulate_lambda_aggregated(counts, 1.0, lam)
    far_day = simulate_fargate_aggregated(counts, 1.0, far)
    day_s = time.perf_counter() - start
    times = arrivals_from_counts(counts[: int(EXACT_REQUESTS / args.rate)], 1.0, rng)
    start = time.perf_counter()
    simulate_lambda_exact(times, lam)
    simulate_fargate_exact(times, far)
    exact_per_request_s = (time.perf_counter() - start) / times.size
    exact_day_s = exact_per_request_s * counts.sum()
    print(f"{counts.sum():,.0f} requests ({args.hours:g} h around {args.rate:g} req/s), Lambda and Fargate, "
          "measured here (one run):\n"
          f"  aggregated mode    {day_s:8.2f} s\n"
          f"  exact mode         {exact_day_s:8.0f} s (extrapolated from {times.size:,} requests)\n"
          f"  ratio              {exact_day_s / day_s:8.0f}×\n"
          f"  simulated: Lambda p99 {lam_day.p99_ms:.1f} ms, {lam_day.cold_starts:,.0f} cold starts; Fargate p99 "
          f"{far_day.p99_ms:.1f} ms, up to {max(far_day.timeline['instances']):.0f} tasks\n"
          f"  target: the day in under {TARGET_S:g} s → {'meets' if day_s < TARGET_S else 'misses'}")


if __name__ == "__main__":
    main()
