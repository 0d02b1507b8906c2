"""`twinserve cost …` and `twinserve prices refresh`: modeled costs with their line items."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twinserve.output import console, fail, print_json, user_errors

app = typer.Typer(help="Modeled AWS costs (every figure here is modeled from its inputs).", no_args_is_help=True)
prices_app = typer.Typer(help="Price files (cost_model/prices/).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help='Print {"total_usd", "lines": [...]} as JSON.')]


def _show(bill: Any, as_json: bool, title: str) -> None:
    if as_json:
        data = bill.as_dict()
        print_json({"total_usd": data["total_usd"], "lines": data["lines"]})
        return
    table = Table(title=f"{title} (modeled)")
    for col in ("item", "quantity", "unit", "USD"):
        table.add_column(col, justify="left" if col in ("item", "unit") else "right")
    for line in bill.lines:
        table.add_row(line.item, f"{line.quantity:,.2f}", line.unit, f"{line.usd:,.2f}")
    table.add_row("total", "", "", f"{bill.total_usd:,.2f}", style="bold")
    console.print(table)


def _prices(region: str) -> Any:
    from cost_model.prices import PriceError, load_prices

    try:
        return load_prices(region)
    except PriceError as exc:
        raise fail(str(exc.args[0])) from None


def _checked(func: Any, **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except ValueError as exc:
        raise fail(str(exc)) from None


@app.command("lambda")
@user_errors
def cost_lambda(
    requests: Annotated[float, typer.Option(help="Requests in the period.")],
    duration_ms: Annotated[float, typer.Option(help="Mean duration per request, ms.")],
    memory_mb: Annotated[int, typer.Option(help="Function memory, MB.")],
    arch: Annotated[str, typer.Option(help="x86_64 or arm64.")] = "x86_64",
    free_tier: Annotated[bool, typer.Option(help="Apply the monthly free tier (not applied otherwise).")] = False,
    ephemeral_mb: Annotated[float, typer.Option(help="Ephemeral storage, MB (512 free).")] = 512,
    init_ms: Annotated[float, typer.Option(help="INIT duration per cold start, ms (billed since 2025-08).")] = 0.0,
    cold_fraction: Annotated[float, typer.Option(help="Share of requests that are cold starts.")] = 0.0,
    provisioned_concurrency: Annotated[int, typer.Option(help="Provisioned concurrency.")] = 0,
    provisioned_hours: Annotated[float, typer.Option(help="Hours it is configured in the period.")] = 0.0,
    provisioned_requests: Annotated[float | None, typer.Option(
        help="Requests of --requests that ran on provisioned concurrency (default: what it can hold).")] = None,
    provisioned_duration_ms: Annotated[float | None, typer.Option(
        help="Mean duration of those, ms (default: --duration-ms).")] = None,
    snapstart: Annotated[bool, typer.Option(help="SnapStart on.")] = False,
    cache_hours: Annotated[float, typer.Option(help="SnapStart cache hours (minimum 3).")] = 0.0,
    restores: Annotated[int, typer.Option(help="SnapStart restores.")] = 0,
    log_bytes_per_request: Annotated[float, typer.Option(help="CloudWatch Logs bytes per request.")] = 0.0,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
    as_json: JsonOpt = False,
) -> None:
    """Lambda: requests, duration tiers, INIT, provisioned concurrency, SnapStart, storage, logs."""
    from cost_model.lambda_costs import lambda_bill

    if arch not in ("x86_64", "arm64"):
        raise fail(f"--arch {arch!r} is not one of x86_64, arm64")
    if provisioned_concurrency and snapstart:
        raise fail("SnapStart cannot be combined with provisioned concurrency (AWS refuses both on one version)")
    bill = _checked(lambda_bill, prices=_prices(region), requests=requests, duration_ms=duration_ms,
                    memory_mb=memory_mb, arch=arch, free_tier=free_tier, ephemeral_mb=ephemeral_mb, init_ms=init_ms,
                    cold_fraction=cold_fraction, provisioned_concurrency=provisioned_concurrency,
                    provisioned_hours=provisioned_hours, provisioned_requests=provisioned_requests,
                    provisioned_duration_ms=provisioned_duration_ms, snapstart=snapstart, cache_hours=cache_hours,
                    restores=restores, log_bytes_per_request=log_bytes_per_request)
    _show(bill, as_json, "Lambda")


@app.command("apigw")
@user_errors
def cost_apigw(
    requests: Annotated[float, typer.Option(help="Requests in the month.")],
    api_type: Annotated[str, typer.Option("--type", help="http or rest.")] = "http",
    request_kb: Annotated[float, typer.Option(help="Request size, KB (HTTP APIs meter per 512 KB).")] = 1.0,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
    as_json: JsonOpt = False,
) -> None:
    """API Gateway HTTP or REST API requests, tiered."""
    from cost_model.apigw_costs import apigw_bill

    bill = _checked(apigw_bill, prices=_prices(region), requests=requests, api_type=api_type, request_kb=request_kb)
    _show(bill, as_json, f"API Gateway {api_type.upper()} API")


@app.command("fargate")
@user_errors
def cost_fargate(
    vcpu: Annotated[float, typer.Option(help="vCPU per task.")],
    memory_gb: Annotated[float, typer.Option(help="Memory per task, GB.")],
    tasks: Annotated[float, typer.Option(help="Number of tasks (or task runs).")],
    hours: Annotated[float | None, typer.Option(help="Hours each task runs.")] = None,
    seconds_per_task: Annotated[float | None, typer.Option(help="Seconds each task runs.")] = None,
    arch: Annotated[str, typer.Option(help="x86_64 or arm64.")] = "x86_64",
    storage_gb: Annotated[float, typer.Option(help="Ephemeral storage, GB (20 free).")] = 20,
    spot_discount: Annotated[float, typer.Option(help="Fargate Spot discount as a fraction, e.g. 0.7.")] = 0.0,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
    as_json: JsonOpt = False,
) -> None:
    """Fargate tasks: vCPU-s, GB-s, storage, 1-minute minimum, Spot."""
    from cost_model.container_costs import fargate_bill

    if arch not in ("x86_64", "arm64"):
        raise fail(f"--arch {arch!r} is not one of x86_64, arm64")
    if (hours is None) == (seconds_per_task is None):
        raise fail("give exactly one of --hours or --seconds-per-task")
    seconds = hours * 3600 if hours is not None else float(seconds_per_task or 0)
    bill = _checked(fargate_bill, prices=_prices(region), vcpu=vcpu, memory_gb=memory_gb, tasks=tasks,
                    seconds_per_task=seconds, arch=arch, storage_gb=storage_gb, spot_discount=spot_discount)
    _show(bill, as_json, "Fargate")


@app.command("alb")
@user_errors
def cost_alb(
    hours: Annotated[float, typer.Option(help="Hours.")],
    new_connections_per_s: Annotated[float, typer.Option(help="New connections per second.")],
    connection_duration_s: Annotated[float, typer.Option(help="Mean connection duration, s.")],
    requests_per_s: Annotated[float, typer.Option(help="Requests per second.")],
    processed_gb_per_hour: Annotated[float, typer.Option(help="Processed bytes, GB per hour.")],
    rules: Annotated[int, typer.Option(help="Listener rules (10 free).")] = 1,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
    as_json: JsonOpt = False,
) -> None:
    """Application Load Balancer: hours and LCUs from the largest of the four dimensions."""
    from cost_model.container_costs import alb_bill

    bill = alb_bill(_prices(region), hours=hours, new_connections_per_s=new_connections_per_s,
                    connection_duration_s=connection_duration_s, requests_per_s=requests_per_s,
                    processed_gb_per_hour=processed_gb_per_hour, rules=rules)
    _show(bill, as_json, "ALB")


@app.command("compare")
@user_errors
def cost_compare(
    results: Annotated[Path | None, typer.Option(help="A results/<id> folder: measured inputs.")] = None,
    from_cdk: Annotated[Path | None, typer.Option(help="cdk.out: memory, architecture, Fargate size, tasks, Spot "
                                                       "and NAT from the synthesized templates.")] = None,
    profile: Annotated[str, typer.Option(help="constant, diurnal, business-hours, spiky.")] = "diurnal",
    trace: Annotated[Path | None, typer.Option(help="Per-minute trace CSV (a 'requests' column) instead.")] = None,
    peak_rps: Annotated[float, typer.Option(help="Peak requests per second of the profile.")] = 20.0,
    slo_ms: Annotated[float, typer.Option(help="p99 latency SLO, ms.")] = 100.0,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
    strategy: Annotated[str, typer.Option(help="Memory size from the run's memory sweep: slo (cheapest meeting the "
                                               "SLO), cheapest, fastest, balanced.")] = "slo",
    balanced_weight: Annotated[float, typer.Option(help="balanced: 0 = fastest only, 1 = cheapest only.")] = 0.5,
    simulate: Annotated[bool, typer.Option(help="Decide 'meets SLO' on each option's simulated p99 under the traffic "
                                                "(cold starts, throttles, queueing, autoscaling); --no-simulate: "
                                                "the keep-alive formula.")] = True,
    option: Annotated[list[str] | None, typer.Option(
        "--option", help="An option to evaluate (repeatable): "
                         "lambda:<http|rest|url|alb>:<x86_64|arm64>[:pc|:snapstart] or "
                         "fargate:<x86_64|arm64>[:spot]. Default: a set of 12.")] = None,
    provisioned_concurrency: Annotated[int | None, typer.Option(
        help="Environments for the :pc options (default: what the profile's peak needs).")] = None,
    provisioned_hours_per_day: Annotated[float, typer.Option(
        help="Hours a day provisioned concurrency is configured (from midnight UTC); on demand otherwise.")] = 24.0,
    snapstart_restore_ms: Annotated[float | None, typer.Option(
        help="SnapStart restore time, ms (not measured here; default: the INIT time, no gain assumed).")] = None,
    spot_discount: Annotated[float | None, typer.Option(
        help="Fargate Spot discount, a fraction (default: the price file's dated typical one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every deployment option's monthly cost for a traffic profile, break-even rate, recommendation."""
    import numpy as np

    from cost_model.compare import compare, option_names, sweep_constant_rates
    from cost_model.from_results import inputs_from_results
    from cost_model.power_tuning import STRATEGIES
    from cost_model.traffic import profile_rates, trace_rates

    if strategy not in STRATEGIES:  # checked whether or not the run has a memory sweep to apply it to
        raise fail(f"--strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if provisioned_hours_per_day > 24:
        raise fail(f"--provisioned-hours-per-day must be 0 to 24, got {provisioned_hours_per_day:g}")
    if spot_discount is not None and not 0 <= spot_discount < 1:
        raise fail(f"--spot-discount must be a fraction from 0 to below 1, got {spot_discount:g}")
    for flag, path, kind in (("--results", results, "summary.json"), ("--from-cdk", from_cdk, None),
                             ("--trace", trace, None)):
        if path is not None and not (path / kind if kind else path).exists():
            raise fail(f"{flag} {path}: no {kind + ' in it' if kind else 'such file or folder'}")
    prices = _prices(region)
    inputs = inputs_from_results(results) if results else _default_inputs()
    if from_cdk:
        from cost_model.from_cdk import apply_cdk

        inputs = _checked(apply_cdk, inputs=inputs, cdk_out=from_cdk)
    inputs.slo_p99_ms = slo_ms
    inputs.provisioned_concurrency = provisioned_concurrency if provisioned_concurrency is not None \
        else inputs.provisioned_concurrency
    inputs.provisioned_hours_per_day = provisioned_hours_per_day
    inputs.snapstart_restore_ms = snapstart_restore_ms
    if spot_discount is not None:
        inputs.spot_discount = spot_discount
    try:
        names = option_names(inputs, option)
    except ValueError as exc:
        raise fail(f"--option: {exc}") from None
    rates = _checked(trace_rates, path=trace) if trace else _checked(profile_rates, name=profile, peak_rps=peak_rps)
    tuned = _power_tuning(results, prices, inputs, rates, strategy, balanced_weight) if results else None
    simulated = None
    if simulate:
        from twinserve.simulator.options import measured_samples, simulate_options

        simulated = simulate_options(inputs, rates, samples=measured_samples(results), options=names)
    result = compare(prices, inputs, rates, trace.name if trace else profile, simulated, names)
    if tuned is not None:
        result["power_tuning"] = tuned
    sweep = sweep_constant_rates(prices, inputs, np.logspace(-3, 4, 400), names)
    result["break_even_rps"] = sweep["break_even_rps"]
    if as_json:
        print_json(result)
        return
    table = Table(title=f"monthly cost, {result['profile']} traffic (modeled; inputs: "
                        f"{'measured, ' + str(results) if results else 'defaults'})")
    for col in ("option", "USD/month", "p99 ms" + (" (simulated)" if simulate else " (formula)"), "cold starts",
                "throttled", "timed out", "max instances", "meets SLO"):
        table.add_column(col, justify="left" if col == "option" else "right")
    for name, entry in sorted(result["options"].items(), key=lambda kv: kv[1]["total_usd"]):
        sim = entry.get("simulated") or {}
        mark = " ✔" if name == result["recommendation"] else ""
        table.add_row(name + mark, f"{entry['total_usd']:,.2f}", f"{entry['p99_ms']:.1f}",
                      f"{sim['cold_starts']:,.0f}" if sim else "", f"{sim['throttled']:,.0f}" if sim else "",
                      f"{sim['failed']:,.0f}" if sim else "", f"{sim['max_instances']:,.0f}" if sim else "",
                      "yes" if entry["meets_slo"] else "no")
    console.print(table)
    be = ", ".join(f"{r:,.2f} req/s" for r in result["break_even_rps"]) or "none in 0.001-10,000 req/s"
    console.print(f"break-even between the cheapest Lambda and the cheapest container option at constant traffic: {be}"
                  f"\nrecommendation: [bold]{result['recommendation']}[/] — " + "; ".join(result["reasons"])
                  + "\n(line items per option: --json)", highlight=False)


def _power_tuning(results: Path, prices: Any, inputs: Any, rates: Any, strategy: str,
                  balanced_weight: float) -> dict[str, Any] | None:
    """When the run has a memory sweep: the size the strategy picks becomes the modeled memory."""
    import json

    from cost_model.power_tuning import tune_memory

    summary = json.loads((results / "summary.json").read_text())
    return tune_memory(prices, inputs, summary, rates, strategy=strategy,  # type: ignore[arg-type]  # checked
                       balanced_weight=balanced_weight)


def _default_inputs() -> Any:
    from cost_model.compare import Inputs

    return Inputs(provenance={"all": "defaults (no --results): modeled inputs, not measurements"})


@prices_app.command("refresh")
@user_errors
def prices_refresh(region: Annotated[str, typer.Option(help="AWS region to price.")] = "us-east-1") -> None:
    """Pull prices from the AWS Price List API (boto3 `pricing`) into a new dated file."""
    import boto3

    from cost_model.refresh import refresh

    # The Price List API answers from us-east-1 (and a few others) for every region.
    path = refresh(boto3.client("pricing", region_name="us-east-1"), region)
    console.print(f"wrote {path}")
