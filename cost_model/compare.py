"""Monthly cost of each deployment option for a traffic profile, the break-even request rate, and a
recommendation (the cheapest option that meets the latency SLO, cold starts included)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cost_model.apigw_costs import apigw_monthly_usd
from cost_model.container_costs import alb_lcus, validate_fargate_size
from cost_model.lambda_costs import lambda_monthly_usd
from cost_model.prices import PriceBook
from cost_model.traffic import MINUTES_PER_MONTH, cold_start_fraction

HOURS_PER_MONTH = MINUTES_PER_MONTH / 60


@dataclass
class Inputs:
    """What the model needs; each field says where it came from in `provenance`."""

    lambda_duration_ms: float = 5.0
    lambda_init_ms: float = 400.0
    lambda_memory_mb: int = 1024
    lambda_arch: str = "x86_64"
    lambda_warm_p99_ms: float = 10.0
    lambda_cold_p50_ms: float = 500.0
    log_bytes_per_request: float = 300.0
    api_type: str = "http"
    request_kb: float = 2.0
    response_kb: float = 1.0
    fargate_vcpu: float = 0.5
    fargate_memory_gb: float = 1.0
    fargate_arch: str = "x86_64"
    per_task_rps: float = 500.0
    target_utilization: float = 0.6
    min_tasks: int = 2  # two tasks in two zones: the availability floor of an always-on service
    max_tasks: int = 10  # the ServiceStack's autoscaling maximum
    cpu_target_percent: float = 60.0  # the ServiceStack's CPU target-tracking policy
    container_warm_p99_ms: float = 10.0
    spot_discount: float = 0.0
    new_connections_per_request: float = 0.05  # clients reuse keep-alive connections (assumed)
    keep_alive_min: float = 10.0
    nat_gateways: int = 0  # tasks in private subnets reach out through NAT gateways (hourly + per GB)
    slo_p99_ms: float = 100.0
    provenance: dict[str, str] = field(default_factory=dict)


def lambda_option_usd(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64]) -> dict[str, float]:
    requests = float(rates_per_s.sum() * 60.0)
    cold = cold_start_fraction(rates_per_s, duration_ms=inputs.lambda_duration_ms, keep_alive_min=inputs.keep_alive_min)
    fn = float(lambda_monthly_usd(prices, requests=requests, duration_ms=inputs.lambda_duration_ms,
                                  memory_mb=inputs.lambda_memory_mb, arch=inputs.lambda_arch,
                                  init_ms=inputs.lambda_init_ms, cold_fraction=cold,
                                  log_bytes_per_request=inputs.log_bytes_per_request))
    api = float(apigw_monthly_usd(prices, requests=requests, api_type=inputs.api_type, request_kb=inputs.request_kb))
    return {"lambda_usd": fn, "apigw_usd": api, "total_usd": fn + api, "requests": requests, "cold_fraction": cold}


def fargate_tasks(inputs: Inputs, rates_per_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tasks running each minute: enough for the rate at the target utilisation, never below the
    minimum, and scaled in only after 15 minutes (autoscaling cooldown)."""
    needed = np.maximum(np.ceil(rates_per_s / (inputs.per_task_rps * inputs.target_utilization)), inputs.min_tasks)
    window = 15
    padded = np.concatenate([np.full(window - 1, needed[0]), needed])
    return np.asarray(np.max(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1), dtype=np.float64)


def fargate_option_usd(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64]) -> dict[str, float]:
    validate_fargate_size(inputs.fargate_vcpu, inputs.fargate_memory_gb)
    tasks = fargate_tasks(inputs, rates_per_s)
    task_seconds = float(tasks.sum() * 60.0)
    factor = 1.0 - inputs.spot_discount
    compute = task_seconds * (inputs.fargate_vcpu * prices.usd(f"fargate.vcpu.{inputs.fargate_arch}")
                              + inputs.fargate_memory_gb * prices.usd(f"fargate.memory.{inputs.fargate_arch}")) * factor
    hourly_rates = rates_per_s[: (rates_per_s.size // 60) * 60].reshape(-1, 60).mean(axis=1)
    gb_per_hour = hourly_rates * 3600 * (inputs.request_kb + inputs.response_kb) / 1024 / 1024
    lcus = alb_lcus(new_connections_per_s=hourly_rates * inputs.new_connections_per_request, connection_duration_s=60,
                    requests_per_s=hourly_rates, processed_gb_per_hour=gb_per_hour, rules=1)
    alb = HOURS_PER_MONTH * prices.usd("alb.hours") + float(lcus.sum()) * prices.usd("alb.lcu_hours")
    nat = float(nat_monthly_usd(prices, inputs, gb_per_hour.sum()))
    return {"fargate_usd": compute, "alb_usd": alb, "nat_usd": nat, "total_usd": compute + alb + nat,
            "task_hours": task_seconds / 3600, "max_tasks": float(tasks.max())}


def nat_monthly_usd(prices: PriceBook, inputs: Inputs, processed_gb: Any) -> Any:
    """NAT gateways (private subnets only): hours for each, plus the traffic they process."""
    if not inputs.nat_gateways:
        return np.zeros_like(np.asarray(processed_gb, dtype=np.float64))
    return (inputs.nat_gateways * HOURS_PER_MONTH * prices.usd("nat.hours")
            + np.asarray(processed_gb, dtype=np.float64) * prices.usd("nat.processed"))


def blended_p99_ms(warm_p99_ms: float, cold_ms: float, cold_fraction: float) -> float:
    """p99 of a mix of warm and cold requests: once more than 1% are cold, the p99 is a cold start."""
    return cold_ms if cold_fraction > 0.01 else warm_p99_ms


def compare(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64], profile: str,
            simulated: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Both options' monthly cost and p99. With `simulated` (each option's traffic simulation), the
    p99 that decides "meets the SLO" is the simulated one, cold starts and queueing included;
    without, the keep-alive formula's (`blended_p99_ms`)."""
    lam = lambda_option_usd(prices, inputs, rates_per_s)
    far = fargate_option_usd(prices, inputs, rates_per_s)
    lam_p99 = blended_p99_ms(inputs.lambda_warm_p99_ms, inputs.lambda_cold_p50_ms, lam["cold_fraction"])
    p99 = {"lambda": lam_p99, "fargate": inputs.container_warm_p99_ms}
    p99_source = dict.fromkeys(p99, "modeled (warm p99, or the cold-start p50 once over 1% of requests are cold)")
    for name, sim in (simulated or {}).items():
        p99[name] = float(sim["latency_ms"]["p99"])
        p99_source[name] = sim["source"]
    options: dict[str, dict[str, Any]] = {
        "lambda": {**lam, "p99_ms": p99["lambda"], "meets_slo": p99["lambda"] <= inputs.slo_p99_ms},
        "fargate": {**far, "p99_ms": p99["fargate"], "meets_slo": p99["fargate"] <= inputs.slo_p99_ms},
    }
    for name, option in options.items():
        option["p99_source"] = p99_source[name]
        if simulated and name in simulated:
            option["simulated"] = {k: v for k, v in simulated[name].items() if k != "timeline"}
    meeting = [k for k, v in options.items() if v["meets_slo"]] or list(options)
    best = min(meeting, key=lambda k: options[k]["total_usd"])
    other = next(k for k in options if k != best)
    reasons = [f"{best} costs ${options[best]['total_usd']:,.2f}/month against ${options[other]['total_usd']:,.2f} "
               f"for {other} at this traffic ({profile}, {lam['requests']:,.0f} requests/month)"]
    if not options[other]["meets_slo"]:
        reasons.append(f"{other} misses the p99 SLO of {inputs.slo_p99_ms:g} ms (p99 {options[other]['p99_ms']:.0f} ms"
                       f"{_why_slow(options[other], lam['cold_fraction'] if other == 'lambda' else 0.0)})")
    return {"profile": profile, "options": options, "recommendation": best, "reasons": reasons,
            "inputs": asdict(inputs), "source": "modeled",
            "timelines": {k: v["timeline"] for k, v in (simulated or {}).items() if "timeline" in v}}


def _why_slow(option: dict[str, Any], modeled_cold_fraction: float) -> str:
    sim = option.get("simulated")
    if sim is None:
        return f", {modeled_cold_fraction:.1%} of requests cold" if modeled_cold_fraction > 0.01 else ""
    parts = [f"simulated: {sim['cold_starts'] / sim['requests']:.2%} of requests cold" if sim["cold_starts"] else "",
             f"{sim['throttled']:,.0f} throttled" if sim["throttled"] else "",
             f"{sim['failed']:,.0f} timed out" if sim["failed"] else "",
             f"up to {sim['max_instances']:.0f} tasks" if option.get("task_hours") is not None else ""]
    return "; " + ", ".join(p for p in parts if p) if any(parts) else ""


def lambda_constant_rate_usd(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64]
                             ) -> NDArray[np.float64]:
    """Monthly Lambda + API Gateway cost at constant rates, vectorised over the rates."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    requests = rates * MINUTES_PER_MONTH * 60.0
    with np.errstate(divide="ignore", invalid="ignore"):
        initial = np.where(requests > 0, np.ceil(rates * inputs.lambda_duration_ms / 1000.0) / requests, 0.0)
    cold = np.minimum(np.exp(-rates * inputs.keep_alive_min * 60.0) + initial, 1.0)
    fn = lambda_monthly_usd(prices, requests=requests, duration_ms=inputs.lambda_duration_ms,
                            memory_mb=inputs.lambda_memory_mb, arch=inputs.lambda_arch, init_ms=inputs.lambda_init_ms,
                            cold_fraction=cold, log_bytes_per_request=inputs.log_bytes_per_request)
    return fn + apigw_monthly_usd(prices, requests=requests, api_type=inputs.api_type, request_kb=inputs.request_kb)


def fargate_constant_rate_usd(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64]
                              ) -> NDArray[np.float64]:
    """Monthly Fargate + ALB cost at constant rates, vectorised over the rates."""
    validate_fargate_size(inputs.fargate_vcpu, inputs.fargate_memory_gb)
    rates = np.asarray(rates_per_s, dtype=np.float64)
    tasks = np.maximum(np.ceil(rates / (inputs.per_task_rps * inputs.target_utilization)), inputs.min_tasks)
    per_task_s = (inputs.fargate_vcpu * prices.usd(f"fargate.vcpu.{inputs.fargate_arch}")
                  + inputs.fargate_memory_gb * prices.usd(f"fargate.memory.{inputs.fargate_arch}"))
    compute = tasks * MINUTES_PER_MONTH * 60.0 * per_task_s * (1.0 - inputs.spot_discount)
    gb_per_hour = rates * 3600 * (inputs.request_kb + inputs.response_kb) / 1024 / 1024
    lcus = alb_lcus(new_connections_per_s=rates * inputs.new_connections_per_request, connection_duration_s=60,
                    requests_per_s=rates, processed_gb_per_hour=gb_per_hour, rules=1)
    alb = HOURS_PER_MONTH * (prices.usd("alb.hours") + lcus * prices.usd("alb.lcu_hours"))
    return np.asarray(compute + alb + nat_monthly_usd(prices, inputs, gb_per_hour * HOURS_PER_MONTH), dtype=np.float64)


def sweep_constant_rates(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64]) -> dict[str, Any]:
    """Monthly cost of both options at constant request rates, and where they cross (break-even)."""
    lam = lambda_constant_rate_usd(prices, inputs, rates_per_s)
    far = fargate_constant_rate_usd(prices, inputs, rates_per_s)
    diff = lam - far
    crossings = [float(np.interp(0.0, sorted([diff[i], diff[i + 1]]),
                                 [rates_per_s[i], rates_per_s[i + 1]] if diff[i] < diff[i + 1]
                                 else [rates_per_s[i + 1], rates_per_s[i]]))
                 for i in range(len(diff) - 1) if np.sign(diff[i]) != np.sign(diff[i + 1])]
    return {"rates_per_s": np.asarray(rates_per_s).tolist(), "lambda_usd": lam.tolist(), "fargate_usd": far.tolist(),
            "break_even_rps": crossings, "source": "modeled"}
