"""Cost functions: AWS's worked examples to the cent, hand-computed cases for every line item, and
properties that must hold for any input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cost_model.apigw_costs import apigw_bill, apigw_monthly_usd
from cost_model.bill import tiered_usd
from cost_model.compare import Inputs, compare, sweep_constant_rates
from cost_model.container_costs import alb_bill, fargate_bill, validate_fargate_size
from cost_model.fleet import ScalingPolicy, fleet_per_minute
from cost_model.lambda_costs import lambda_bill, lambda_monthly_usd
from cost_model.prices import load_prices
from cost_model.traffic import MINUTES_PER_MONTH, cold_start_fraction, profile_rates
from twinserve.cli import app

PRICES = load_prices("us-east-1")


def line(bill: object, item: str) -> float:
    return next(x.usd for x in bill.lines if x.item == item)  # type: ignore[attr-defined]


# --- AWS pricing-page worked examples ---------------------------------------------------------
def test_lambda_mobile_backend_example() -> None:
    # 3M × 0.120 s × 1.5 GB = 540,000 GB-s − 400,000 free = 140,000 × $0.0000166667 = $2.33;
    # 3M − 1M free = 2M requests × $0.20/M = $0.40; total $2.73.
    bill = lambda_bill(PRICES, requests=3_000_000, duration_ms=120, memory_mb=1536, free_tier=True)
    assert round(line(bill, "Lambda duration (x86_64)"), 2) == 2.33
    assert round(line(bill, "Lambda requests"), 2) == 0.40
    assert round(bill.total_usd, 2) == 2.73


def test_fargate_example_1() -> None:
    # 5 tasks × 600 s × 30 days = 90,000 task-s. vCPU 90,000 × $0.000011244 = $1.01;
    # memory 90,000 × 2 GB × $0.000001235 = $0.22; storage 10 GB × 90,000 s × $0.0000000308 = $0.03.
    bill = fargate_bill(PRICES, vcpu=1, memory_gb=2, tasks=5 * 30, seconds_per_task=600, storage_gb=30)
    assert [round(x.usd, 2) for x in bill.lines] == [1.01, 0.22, 0.03]
    assert round(bill.total_usd, 2) == 1.26


def test_http_api_example_1() -> None:
    # 300M × $1.00/M + 132M × $0.90/M = $418.80
    assert round(apigw_bill(PRICES, requests=432_000_000).total_usd, 2) == 418.80


# --- hand-computed line items ------------------------------------------------------------------
def test_lambda_tiers_cross_at_6_billion_gb_s() -> None:
    # 7e9 GB-s: 6e9 × 0.0000166667 + 1e9 × 0.0000150000 = 100,000.2 + 15,000 = $115,000.20
    assert tiered_usd(7e9, PRICES.tiers("lambda.duration.x86_64")) == pytest.approx(115_000.2)
    # arm64 tier boundary at 7.5e9 GB-s: 7.5e9 × 0.0000133334 = $100,000.50
    assert tiered_usd(7.5e9, PRICES.tiers("lambda.duration.arm64")) == pytest.approx(100_000.5)


def test_init_is_billed_on_the_cold_fraction() -> None:
    # 1M requests, ceil(9.2) = 10 ms + 1% × 400 ms = 14 ms billed each → 14,000 s × 1 GB = 14,000 GB-s
    bill = lambda_bill(PRICES, requests=1_000_000, duration_ms=9.2, memory_mb=1024, init_ms=400, cold_fraction=0.01)
    duration = next(x for x in bill.lines if x.item == "Lambda duration (x86_64)")
    assert duration.quantity == pytest.approx(14_000)
    assert duration.usd == pytest.approx(14_000 * 1.66667e-05)


def test_provisioned_concurrency_and_spill_over() -> None:
    # PC 2 at 1 GB for 1 h (3,600 s, already on a 5-minute step): 7,200 GB-s × $0.0000041667 = $0.03.
    # 360,000 requests × 100 ms in 1 h = mean concurrency 10 → 2/10 = 20% on provisioned:
    # 72,000 requests × 0.1 s × 1 GB = 7,200 GB-s × $0.0000097222 = $0.07; 288,000 spill to on-demand:
    # 28,800 GB-s × $0.0000166667 = $0.48.
    bill = lambda_bill(PRICES, requests=360_000, duration_ms=100, memory_mb=1024, provisioned_concurrency=2,
                       provisioned_hours=1.0)
    assert line(bill, "Lambda provisioned concurrency (x86_64)") == pytest.approx(7200 * 4.1667e-06)
    assert line(bill, "Lambda duration on provisioned concurrency (x86_64)") == pytest.approx(7200 * 9.7222e-06)
    assert line(bill, "Lambda duration (x86_64)") == pytest.approx(28_800 * 1.66667e-05)
    # 61 minutes round up to 65 (5-minute steps): 2 × 1 GB × 3,900 s
    stepped = lambda_bill(PRICES, requests=0, duration_ms=100, memory_mb=1024, provisioned_concurrency=2,
                          provisioned_hours=61 / 60)
    assert next(x for x in stepped.lines if "provisioned concurrency" in x.item).quantity == 7800


def test_aws_provisioned_concurrency_example_to_the_cent() -> None:
    # AWS's example: 100 × 1,536 MB configured for 8 h ($18.00); 500,000 requests at 100 ms on them
    # (75,000 GB-s × $0.0000097222 = $0.73); 2.5M on demand at 120 ms: 450,000 GB-s − 400,000 free =
    # 50,000 GB-s ($0.83); 3M requests − 1M free = 2M ($0.40). Total $19.96.
    bill = lambda_bill(PRICES, requests=3_000_000, duration_ms=120, memory_mb=1536, free_tier=True,
                       provisioned_concurrency=100, provisioned_hours=8, provisioned_requests=500_000,
                       provisioned_duration_ms=100)
    assert round(line(bill, "Lambda provisioned concurrency (x86_64)"), 2) == 18.00
    assert round(bill.total_usd, 2) == 19.96
    with pytest.raises(ValueError, match="--provisioned-requests"):
        lambda_bill(PRICES, requests=10, duration_ms=1, memory_mb=128, provisioned_concurrency=1,
                    provisioned_hours=1, provisioned_requests=11)


def test_snapstart_minimum_cache_and_restores() -> None:
    # cache: 2 GB × 3 h minimum × 3,600 s = 21,600 GB-s × $0.0000015046 = $0.0325;
    # restores: 100 × 2 GB = 200 GB × $0.0001397998 = $0.0280
    bill = lambda_bill(PRICES, requests=0, duration_ms=1, memory_mb=2048, snapstart=True, cache_hours=1, restores=100)
    assert line(bill, "Lambda SnapStart cache") == pytest.approx(21_600 * 1.5046e-06)
    assert line(bill, "Lambda SnapStart restores") == pytest.approx(200 * 1.397998e-04)


def test_ephemeral_storage_and_logs() -> None:
    # 1,536 MB → 1 GB above 512 MB × 1M × 0.1 s = 100,000 GB-s × $0.0000000309 = $0.00309
    # logs: 1M × 1,073.741824 bytes = 1 GiB × $0.50
    bill = lambda_bill(PRICES, requests=1_000_000, duration_ms=100, memory_mb=1024, ephemeral_mb=1536,
                       log_bytes_per_request=1024**3 / 1_000_000)
    assert line(bill, "Lambda ephemeral storage above 512 MB") == pytest.approx(100_000 * 3.09e-08)
    assert line(bill, "CloudWatch Logs ingestion") == pytest.approx(0.5)


def test_http_api_meters_512_kb_increments_and_rest_tiers() -> None:
    # a 1.2 MB (1,228.8 KB) request counts as 3
    assert apigw_bill(PRICES, requests=1_000_000, request_kb=1228.8).lines[0].quantity == 3_000_000
    # REST: 333M × $3.50/M + 67M × $2.80/M = 1,165.50 + 187.60 = $1,353.10
    assert float(apigw_monthly_usd(PRICES, requests=400e6, api_type="rest")) == pytest.approx(1353.10)


def test_fargate_minute_minimum_and_spot() -> None:
    # 10 runs of 20 s bill 60 s each: 600 vCPU-s × 0.25 × $0.000011244
    short = fargate_bill(PRICES, vcpu=0.25, memory_gb=0.5, tasks=10, seconds_per_task=20)
    assert short.lines[0].quantity == pytest.approx(150)
    spot = fargate_bill(PRICES, vcpu=1, memory_gb=2, tasks=1, seconds_per_task=3600, spot_discount=0.7)
    full = fargate_bill(PRICES, vcpu=1, memory_gb=2, tasks=1, seconds_per_task=3600)
    assert spot.total_usd == pytest.approx(full.total_usd * 0.3)


def test_fargate_sizes_are_validated() -> None:
    validate_fargate_size(0.25, 0.5)
    with pytest.raises(ValueError, match=r"3 GB is not valid with 0.25 vCPU on Fargate; allowed: 0.5 to 2 GB"):
        validate_fargate_size(0.25, 3)
    with pytest.raises(ValueError, match="choose one of"):
        validate_fargate_size(3, 8)


@pytest.mark.parametrize(
    ("kwargs", "lcus"),
    [
        # new connections: 50/s ÷ 25 = 2 LCU
        ({"new_connections_per_s": 50, "connection_duration_s": 1, "requests_per_s": 50,
          "processed_gb_per_hour": 0.1}, 2),
        # active: 10/s × 600 s = 6,000 ÷ 3,000 = 2 LCU
        ({"new_connections_per_s": 10, "connection_duration_s": 600, "requests_per_s": 10,
          "processed_gb_per_hour": 0.1}, 2),
        # processed bytes: 3 GB/h = 3 LCU
        ({"new_connections_per_s": 1, "connection_duration_s": 1, "requests_per_s": 10, "processed_gb_per_hour": 3}, 3),
        # rule evaluations: 2,000/s × (12 − 10) = 4,000 ÷ 1,000 = 4 LCU
        ({"new_connections_per_s": 1, "connection_duration_s": 1, "requests_per_s": 2000, "processed_gb_per_hour": 0.1,
          "rules": 12}, 4),
    ],
)
def test_alb_bills_the_largest_dimension(kwargs: dict[str, float], lcus: float) -> None:
    bill = alb_bill(PRICES, hours=10, **kwargs)  # type: ignore[arg-type]
    assert line(bill, "ALB hours") == pytest.approx(10 * 0.0225)
    assert line(bill, "ALB capacity units") == pytest.approx(lcus * 10 * 0.008)


# --- properties ---------------------------------------------------------------------------------
amounts = st.floats(min_value=0, max_value=1e11, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(requests=amounts, extra=st.floats(min_value=0, max_value=1e9), duration=st.floats(min_value=0, max_value=9e5),
       memory=st.integers(min_value=128, max_value=10240), arch=st.sampled_from(["x86_64", "arm64"]),
       free=st.booleans())
def test_lambda_cost_is_non_negative_and_monotone(requests: float, extra: float, duration: float, memory: int,
                                                 arch: str, free: bool) -> None:
    base = float(lambda_monthly_usd(PRICES, requests=requests, duration_ms=duration, memory_mb=memory, arch=arch,
                                    free_tier=free))
    more_requests = float(lambda_monthly_usd(PRICES, requests=requests + extra, duration_ms=duration,
                                             memory_mb=memory, arch=arch, free_tier=free))
    longer = float(lambda_monthly_usd(PRICES, requests=requests, duration_ms=duration + 1, memory_mb=memory,
                                      arch=arch, free_tier=free))
    assert base >= 0 and more_requests >= base and longer >= base


@pytest.mark.parametrize("key", ["lambda.duration.x86_64", "lambda.duration.arm64", "apigw.http.requests",
                                 "apigw.rest.requests", "cloudwatch.logs.ingestion", "data_transfer.out"])
def test_tiers_are_continuous_at_their_boundaries(key: str) -> None:
    for upper, _ in PRICES.tiers(key):
        if upper is None:
            continue
        below, at, above = tiered_usd([upper * (1 - 1e-12), upper, upper * (1 + 1e-12)], PRICES.tiers(key))
        assert below <= at <= above
        assert above - below <= upper * 2e-12 * max(p for _, p in PRICES.tiers(key)) + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e12), min_size=2, max_size=20))
def test_tiered_cost_is_monotone(quantities: list[float]) -> None:
    ordered = np.sort(np.array(quantities))
    costs = tiered_usd(ordered, PRICES.tiers("apigw.rest.requests"))
    assert (np.diff(costs) >= -1e-9).all() and (costs >= 0).all()


# --- traffic, cold starts, comparison ---------------------------------------------------------
def test_profiles_and_cold_fraction() -> None:
    assert profile_rates("constant", 2.0).sum() * 60 == pytest.approx(2.0 * MINUTES_PER_MONTH * 60)
    assert profile_rates("diurnal", 10).max() == pytest.approx(10) and profile_rates("diurnal", 10).min() >= 1.0
    # one request a minute with a 10-minute keep-alive: gaps never reach it → almost never cold
    assert cold_start_fraction(np.full(MINUTES_PER_MONTH, 1 / 60), duration_ms=10) < 0.001
    # one request every 20 minutes on average: most requests find no warm environment
    assert cold_start_fraction(np.full(MINUTES_PER_MONTH, 1 / 1200), duration_ms=10) > 0.5
    with pytest.raises(ValueError, match="unknown traffic profile"):
        profile_rates("weekly", 1)


def test_fargate_fleet_follows_the_scaling_policy() -> None:
    # 1,000 req/s for 5 minutes against 1,000 requests per target per minute on 2 tasks: 30,000 per
    # target, above target for 3 minutes → ceil(2 × 30000 / 1000) = 60, capped at the maximum 20; the
    # new tasks run (billed) at once and serve a minute later; back at 0 req/s, 15 minutes below 90%
    # of the target bring the fleet back to the minimum.
    policy = ScalingPolicy(min_tasks=2, max_tasks=20, requests_per_target_per_min=1000, cpu_target_percent=None)
    rates = np.zeros(40)
    rates[5:10] = 1000
    running, serving = fleet_per_minute(policy, rates, capacity_per_task_rps=100)
    assert running[7] == 2 and running[8] == 20 and serving[8] == 2 and serving[9] == 20
    assert running[8 + 15] == 20 and running[-1] == 2


def test_break_even_is_where_the_options_cross() -> None:
    sweep = sweep_constant_rates(PRICES, Inputs(), np.logspace(-2, 3, 200), ["lambda:http:x86_64", "fargate:x86_64"])
    (be,) = sweep["break_even_rps"]
    lam, far = np.array(sweep["lambda_usd"]), np.array(sweep["fargate_usd"])
    rates = np.array(sweep["rates_per_s"])
    below, above = rates < be * 0.9, rates > be * 1.1
    assert (lam[below] < far[below]).all() and (lam[above] > far[above]).all()


def test_break_even_is_between_the_cheapest_of_each_kind() -> None:
    sweep = sweep_constant_rates(PRICES, Inputs(), np.logspace(-2, 3, 200))
    first, last = sweep["break_even_rps"][0], sweep["break_even_rps"][-1]
    lam, far = np.array(sweep["lambda_usd"]), np.array(sweep["fargate_usd"])
    rates = np.array(sweep["rates_per_s"])
    assert (lam[rates < first] < far[rates < first]).all() and (lam[rates > last] > far[rates > last]).all()
    curves = sweep["options"]
    assert np.allclose(lam, np.min([curves[k] for k in curves if k.startswith("lambda")], axis=0))
    assert set(sweep["cheapest_lambda"]) <= {k for k in curves if k.startswith("lambda")}


def test_recommendation_respects_the_slo() -> None:
    cheap_but_slow = Inputs(lambda_warm_p99_ms=500, slo_p99_ms=100)
    result = compare(PRICES, cheap_but_slow, profile_rates("spiky", 1.0), "spiky")
    options = result["options"]
    assert options["lambda:url:arm64"]["total_usd"] < options["fargate:arm64:spot"]["total_usd"]
    assert not any(v["meets_slo"] for k, v in options.items() if k.startswith("lambda"))
    assert result["recommendation"].startswith("fargate")
    assert any("misses the p99 SLO" in r for r in result["reasons"])


# --- CLI ------------------------------------------------------------------------------------------
runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "total"),
    [
        (["cost", "lambda", "--requests", "3000000", "--duration-ms", "120", "--memory-mb", "1536", "--free-tier"],
         2.73),
        (["cost", "apigw", "--type", "http", "--requests", "432000000"], 418.80),
        (["cost", "lambda", "--requests", "3000000", "--duration-ms", "120", "--memory-mb", "1536", "--free-tier",
          "--provisioned-concurrency", "100", "--provisioned-hours", "8", "--provisioned-requests", "500000",
          "--provisioned-duration-ms", "100"], 19.96),
        (["cost", "fargate", "--vcpu", "1", "--memory-gb", "2", "--tasks", "150", "--seconds-per-task", "600",
          "--storage-gb", "30"], 1.26),
        (["cost", "alb", "--hours", "730", "--new-connections-per-s", "1", "--connection-duration-s", "1",
          "--requests-per-s", "10", "--processed-gb-per-hour", "0.5", "--rules", "1"], 730 * (0.0225 + 0.5 * 0.008)),
    ],
)
def test_cost_cli_json(args: list[str], total: float) -> None:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"total_usd", "lines"}
    assert all(set(x) == {"item", "quantity", "unit", "usd"} for x in data["lines"])
    assert round(data["total_usd"], 2) == round(total, 2)


def test_cost_cli_errors() -> None:
    bad = runner.invoke(app, ["cost", "fargate", "--vcpu", "0.25", "--memory-gb", "3", "--tasks", "1", "--hours", "1"])
    assert bad.exit_code == 2 and "not valid with 0.25 vCPU" in bad.stderr
    both = runner.invoke(app, ["cost", "lambda", "--requests", "1", "--duration-ms", "1", "--memory-mb", "128",
                               "--snapstart", "--provisioned-concurrency", "1"])
    assert both.exit_code == 2 and "SnapStart cannot be combined" in both.stderr
