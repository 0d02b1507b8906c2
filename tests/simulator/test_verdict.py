"""The verdict decides "meets the SLO" on simulated p99: cold starts, throttles and queueing included."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from cost_model.compare import Inputs, compare
from cost_model.prices import load_prices
from cost_model.traffic import profile_rates
from twinserve.cli import app
from twinserve.simulator.options import simulate_options

PRICES = load_prices()


def test_an_undersized_fleet_misses_the_slo_when_traffic_spikes() -> None:
    # One task that never scales (min = max = 1), 6 ms per request: 150 req/s spikes are 90% busy and
    # queue. Its warm p99 (10 ms) meets a 50 ms SLO, the formula says fine; the simulation says no.
    inputs = Inputs(min_tasks=1, max_tasks=1, container_warm_p99_ms=10.0, slo_p99_ms=50.0, per_task_rps=150.0)
    rates = profile_rates("spiky", 150.0)
    options = ["lambda:http:x86_64", "fargate:x86_64:spot"]
    by_formula = compare(PRICES, inputs, rates, "spiky", options=options)
    simulated = compare(PRICES, inputs, rates, "spiky", simulate_options(inputs, rates, options=options), options)
    assert by_formula["options"]["fargate:x86_64:spot"]["meets_slo"]
    assert by_formula["recommendation"] == "fargate:x86_64:spot"  # the cheaper one, by the formula
    fargate = simulated["options"]["fargate:x86_64:spot"]
    assert not fargate["meets_slo"] and fargate["p99_ms"] > 50.0
    assert fargate["p99_source"].startswith("modeled (simulated")
    assert simulated["recommendation"] == "lambda:http:x86_64"


def test_sparse_traffic_puts_the_lambda_p99_on_its_cold_starts() -> None:
    inputs = Inputs(lambda_cold_p50_ms=800.0, slo_p99_ms=200.0, keep_alive_min=5.0)
    rates = profile_rates("constant", 0.01)  # one request every 100 s, keep-alive 5 min: about 5% cold
    result = compare(PRICES, inputs, rates, "constant", simulate_options(inputs, rates))
    lam = result["options"]["lambda:http:x86_64"]
    assert lam["simulated"]["cold_starts"] / lam["simulated"]["requests"] > 0.01
    assert lam["p99_ms"] > 500.0 and not lam["meets_slo"]


def test_cost_compare_prints_the_simulated_verdict() -> None:
    out = CliRunner().invoke(app, ["cost", "compare", "--profile", "spiky", "--peak-rps", "50", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    for option in data["options"].values():
        assert option["p99_source"] == "modeled (simulated, aggregated mode)"
        assert {"cold_starts", "throttled", "failed", "max_instances"} <= set(option["simulated"])
    lam = data["options"]["lambda:http:x86_64"]["simulated"]
    assert lam["cold_starts"] > 0 and np.isfinite(lam["latency_ms"]["p99"])
    formula = CliRunner().invoke(app, ["cost", "compare", "--no-simulate", "--json"])
    assert "simulated" not in json.loads(formula.output)["options"]["lambda:http:x86_64"]
