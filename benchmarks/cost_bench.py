"""Cost benchmark: price 10,000 traffic points for every option (vectorised), against the same
points priced one at a time, in one run. Target: the vectorised pass under a second.
Run: `python -m benchmarks.cost_bench`."""

from __future__ import annotations

import time

import numpy as np

from cost_model.compare import Inputs, sweep_constant_rates
from cost_model.options import DEFAULT_OPTIONS
from cost_model.prices import load_prices

POINTS = 10_000
TARGET_S = 1.0


def main() -> None:
    prices = load_prices()
    inputs = Inputs()
    rates = np.logspace(-3, 4, POINTS)
    start = time.perf_counter()
    sweep = sweep_constant_rates(prices, inputs, rates)
    vectorised_s = time.perf_counter() - start
    sample = rates[:: POINTS // 100]
    start = time.perf_counter()
    for r in sample:
        sweep_constant_rates(prices, inputs, np.array([r]))
    one_by_one_s = (time.perf_counter() - start) * POINTS / len(sample)
    assert all(len(v) == POINTS for v in sweep["options"].values())
    print(f"{POINTS:,} traffic points × {len(DEFAULT_OPTIONS)} options, measured here (one run):\n"
          f"  vectorised        {vectorised_s * 1000:8.1f} ms\n"
          f"  one at a time     {one_by_one_s * 1000:8.1f} ms (extrapolated from {len(sample)} points)\n"
          f"  ratio             {one_by_one_s / vectorised_s:8.1f}×\n"
          f"  target: vectorised under {TARGET_S:g} s → {'meets' if vectorised_s < TARGET_S else 'misses'}")


if __name__ == "__main__":
    main()
