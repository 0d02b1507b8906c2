"""How long a summary of many latencies takes: count, mean, p50/p90/p99 with 95% CIs.

    python -m benchmarks.stats_bench [--values 200000] [--rounds 5]

Prints the median time per summary and its ratio to the target (2 s for 200,000 values). The
baseline measured in the same run is a plain sort of the same values, so the ratio to it says how
much the intervals cost on top of ordering the data on this machine today.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.stats import median, summarize

TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    values = list(rng.lognormal(mean=1.0, sigma=0.6, size=args.values))
    summary_s, sort_s = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        sorted(values)
        sort_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        summary = summarize(values)
        summary_s.append(time.perf_counter() - start)
    took, base = median(summary_s), median(sort_s)
    print(f"summarize({args.values:,} values): median {took * 1000:.0f} ms over {args.rounds} rounds "
          f"(measured here); p99 {summary['p99']:.3f} CI {summary['p99_ci95']}")
    print(f"  vs sorted() of the same list: {base * 1000:.0f} ms -> ratio {took / base:.2f}")
    print(f"  target {TARGET_S:.0f} s: {'met' if took < TARGET_S else 'MISSED'} ({took / TARGET_S:.2f} of it)")


if __name__ == "__main__":
    main()
