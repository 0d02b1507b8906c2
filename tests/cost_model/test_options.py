"""Every option a team weighs, priced as the stacks deploy it: front doors, architectures,
provisioned concurrency, SnapStart, Spot, and the charges AWS bills (IPv4, data transfer, logs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cost_model.compare import Inputs, compare, deployment, sweep_constant_rates
from cost_model.options import (
    DEFAULT_OPTIONS,
    FargateOption,
    LambdaOption,
    constant_rate_usd,
    fargate_bill_for,
    lambda_bill_for,
    parse_option,
)
from cost_model.prices import load_prices
from cost_model.traffic import profile_rates
from infra.config import DeploymentConfig
from twinserve.cli import app
from twinserve.simulator.options import simulate_options

PRICES = load_prices()
SEED_CAPACITY_RPS = 2335.0  # the seed run's measured multi-worker rate of one service instance


def seed_inputs() -> Inputs:
    """The seed's measured service capacity, with the request-count target the ServiceStack derives
    from it (infra/config.py: capacity × 60 × capacity_utilization)."""
    config = DeploymentConfig(per_task_capacity_rps=SEED_CAPACITY_RPS)
    return Inputs(per_task_rps=SEED_CAPACITY_RPS, requests_per_target_per_min=config.requests_per_target_per_minute)


def lines(entry: dict) -> dict[str, float]:
    return {line["item"]: line["usd"] for line in entry["lines"]}


def test_at_300_rps_a_container_option_is_at_least_85_percent_cheaper_than_lambda_behind_an_http_api() -> None:
    inputs, rates = seed_inputs(), profile_rates("constant", 300.0)
    result = compare(PRICES, inputs, rates, "constant", simulate_options(inputs, rates))
    best = result["options"][result["recommendation"]]
    reference = result["options"]["lambda:http:x86_64"]
    assert best["kind"] == "fargate"
    assert best["total_usd"] <= 0.15 * reference["total_usd"]
    said = " ".join(result["reasons"])
    assert f"${best['total_usd']:,.2f}" in said and f"${reference['total_usd']:,.2f}" in said


def test_at_1_rps_a_lambda_option_is_recommended() -> None:
    inputs, rates = seed_inputs(), profile_rates("constant", 1.0)
    result = compare(PRICES, inputs, rates, "constant", simulate_options(inputs, rates))
    assert result["options"][result["recommendation"]]["kind"] == "lambda"


def test_the_front_door_decides_the_lambda_bill() -> None:
    dep, rates = deployment(Inputs(), profile_rates("constant", 20.0)), profile_rates("constant", 20.0)
    bills = {door: lambda_bill_for(PRICES, LambdaOption(door), dep, rates, cold_starts=0.0)  # type: ignore[arg-type]
             for door in ("http", "rest", "url", "alb")}
    items = {door: {line.item for line in bill.lines} for door, bill in bills.items()}
    assert "API Gateway HTTP API requests" in items["http"] and "API Gateway REST API requests" in items["rest"]
    assert not any("API Gateway" in i or "ALB" in i for i in items["url"])  # a function URL has no fee
    assert {"ALB hours (whole hours)", "ALB capacity units (Lambda targets)",
            "Public IPv4 addresses (ALB, one per zone)"} <= items["alb"]
    totals = {door: bill.total_usd for door, bill in bills.items()}
    assert totals["url"] < totals["alb"] < totals["http"] < totals["rest"]
    # 51.84M requests: HTTP API $1.00 per million (2 KB, one 512 KB unit each) = $51.84
    http = next(line for line in bills["http"].lines if line.item == "API Gateway HTTP API requests")
    assert http.usd == pytest.approx(51.84, abs=0.01)


def test_public_ipv4_addresses_are_billed_for_tasks_and_the_load_balancer() -> None:
    # 2 tasks with public IPs and the ALB's 2 per-zone addresses: 4 × 720 h × $0.005 = $14.40
    dep, rates = deployment(Inputs(), profile_rates("constant", 1.0)), profile_rates("constant", 1.0)
    bill, running = fargate_bill_for(PRICES, FargateOption(), dep, rates)
    items = {line.item: line.usd for line in bill.lines}
    assert running.max() == 2
    assert items["Public IPv4 addresses (one per task)"] + items["Public IPv4 addresses (ALB, one per zone)"] \
        == pytest.approx(14.40)
    private = deployment(Inputs(public_task_ips=False), rates)
    assert "Public IPv4 addresses (one per task)" not in {line.item for line in fargate_bill_for(
        PRICES, FargateOption(), private, rates)[0].lines}


def test_alb_partial_hours_are_billed_as_whole_hours() -> None:
    dep, rates = deployment(Inputs(), np.full(90, 1.0)), np.full(90, 1.0)  # 90 minutes
    bill, _ = fargate_bill_for(PRICES, FargateOption(), dep, rates)
    hours = next(line for line in bill.lines if line.item == "ALB hours (whole hours)")
    assert hours.quantity == 2 and hours.usd == pytest.approx(2 * 0.0225)


def test_data_transfer_out_is_tiered_and_on_every_option() -> None:
    # 200 req/s × 1 KB for a month = 518.4M KB = 494.38 GB: the first 100 GB free, then $0.09/GB
    rates = profile_rates("constant", 200.0)
    result = compare(PRICES, Inputs(), rates, "constant")
    expected = (200 * 30 * 24 * 3600 / 1024 / 1024 - 100) * 0.09
    for name, entry in result["options"].items():
        assert lines(entry)["Data transfer out to the internet (first 100 GB/month free)"] == \
            pytest.approx(expected, rel=1e-9), name


def test_lambda_logs_are_priced_from_bytes_per_request() -> None:
    rates = profile_rates("constant", 10.0)
    small = lines(compare(PRICES, Inputs(log_bytes_per_request=100), rates, "c")["options"]["lambda:url:x86_64"])
    large = lines(compare(PRICES, Inputs(log_bytes_per_request=1000), rates, "c")["options"]["lambda:url:x86_64"])
    assert large["CloudWatch Logs ingestion"] == pytest.approx(10 * small["CloudWatch Logs ingestion"])
    assert large["CloudWatch Logs storage (a month's logs, kept)"] > 0


def test_spot_uses_the_dated_typical_discount_and_shows_its_range() -> None:
    rates = profile_rates("constant", 5.0)
    result = compare(PRICES, Inputs(), rates, "c", options=["fargate:x86_64", "fargate:x86_64:spot"])
    on_demand, spot = (lines(result["options"][k]) for k in ("fargate:x86_64", "fargate:x86_64:spot"))
    spot_vcpu = next(k for k in spot if k.startswith("Fargate vCPU"))
    assert "70% off; typical as of 2026-09, range 50%-70%" in spot_vcpu
    assert spot[spot_vcpu] == pytest.approx(0.3 * on_demand["Fargate vCPU (x86_64)"])
    override = compare(PRICES, Inputs(spot_discount=0.5), rates, "c", options=["fargate:x86_64:spot"])
    assert "50% off" in next(iter(lines(override["options"]["fargate:x86_64:spot"])))


def test_provisioned_concurrency_window_and_on_demand_remainder() -> None:
    # 10 environments × 1,024 MB for 8 hours a day: 10 × 1 GB × 8 × 3600 × 30 s × $0.0000041667 = $36.00
    inputs = Inputs(provisioned_concurrency=10, provisioned_hours_per_day=8)
    rates = profile_rates("constant", 100.0)
    entry = compare(PRICES, inputs, rates, "c", options=["lambda:url:x86_64:pc"])["options"]["lambda:url:x86_64:pc"]
    items = lines(entry)
    configured = next(k for k in items if k.startswith("Lambda provisioned concurrency"))
    assert items[configured] == pytest.approx(36.00, abs=0.01)
    # concurrency 100 × 5 ms = 0.5 fits in 10 environments: a third of the month's busy time on them
    on_pc = items["Lambda duration on provisioned concurrency (x86_64)"]
    busy_gbs = 100 * 30 * 24 * 3600 * 0.005
    assert on_pc == pytest.approx(busy_gbs / 3 * 0.0000097222, rel=1e-6)


def test_monthly_bills_and_constant_rate_curves_agree() -> None:
    inputs = Inputs(provisioned_concurrency=2)
    for rate in (0.5, 20.0, 400.0):
        rates = profile_rates("constant", rate)
        dep = deployment(inputs, rates)
        for name in DEFAULT_OPTIONS:
            option = parse_option(name)
            monthly = compare(PRICES, inputs, rates, "c", options=[name])["options"][name]
            curve = constant_rate_usd(PRICES, option, dep, np.array([rate]),
                                      np.array([monthly.get("cold_fraction", 0.0)]))[0]
            assert curve == pytest.approx(monthly["total_usd"], rel=0.01), (name, rate)


@pytest.mark.parametrize("name", ["lambda:http", "lambda:grpc:x86_64", "lambda:url:sparc", "lambda:url:arm64:spot",
                                  "fargate:x86_64:pc", "ec2:x86_64"])
def test_unknown_options_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="options are lambda"):
        parse_option(name)
    out = CliRunner().invoke(app, ["cost", "compare", "--option", name])
    assert out.exit_code == 2 and "--option" in out.output


def test_cost_compare_evaluates_the_options_asked_for() -> None:
    out = CliRunner().invoke(app, ["cost", "compare", "--profile", "constant", "--peak-rps", "5", "--json",
                                   "--option", "lambda:url:arm64", "--option", "fargate:arm64:spot"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["options"]) == {"lambda:url:arm64", "fargate:arm64:spot"}
    assert all(entry["lines"] and entry["total_usd"] > 0 for entry in data["options"].values())


def test_sweep_prices_every_option() -> None:
    sweep = sweep_constant_rates(PRICES, Inputs(), np.logspace(-3, 4, 50))
    assert set(sweep["options"]) == set(DEFAULT_OPTIONS)
    assert all(len(v) == 50 and min(v) > 0 for v in sweep["options"].values())


def test_log_bytes_per_request_are_measured_from_the_emulator_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cost_model.from_results import log_bytes_per_invocation

    invocation = [b"START RequestId: a Version: $LATEST\n", b'{"level":"INFO","message":"predicted"}\n',
                  b'{"_aws":{"CloudWatchMetrics":[]},"Requests":[1.0]}\n', b"END RequestId: a\n",
                  b"REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 1 ms\n"]
    log = tmp_path / "local-lambda-emulator.log"
    log.write_bytes(b"Lambda emulator predict on http://127.0.0.1:1\n  banner line\n" + b"".join(invocation) * 3)
    per_invocation, count = log_bytes_per_invocation(log)  # type: ignore[misc]
    assert count == 3 and per_invocation == sum(len(line) for line in invocation)
