"""Monthly cost of every deployment option for a traffic profile, with line items; the break-even rate
between the cheapest Lambda option and the cheapest container option; and a recommendation (the
cheapest option that meets the latency SLO, cold starts and queueing included)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cost_model.container_costs import validate_fargate_size
from cost_model.fleet import ScalingPolicy
from cost_model.options import (
    DEFAULT_OPTIONS,
    SECONDS_PER_MONTH,
    Deployment,
    LambdaOption,
    Option,
    constant_rate_usd,
    fargate_bill_for,
    lambda_bill_for,
    parse_option,
)
from cost_model.prices import PriceBook
from cost_model.traffic import cold_start_fraction

REFERENCE_OPTION = "lambda:http:x86_64"  # what a team starts from: the savings are said against it


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
    provisioned_concurrency: int | None = None  # None: what the profile's peak needs (Little's law)
    provisioned_hours_per_day: float = 24.0
    snapstart_restore_ms: float | None = None  # None: not measured, the INIT duration is assumed (no gain)
    fargate_vcpu: float = 0.5
    fargate_memory_gb: float = 1.0
    fargate_arch: str = "x86_64"
    per_task_rps: float = 500.0  # one task's capacity: 100% CPU at this rate
    min_tasks: int = 2  # two tasks in two zones: the availability floor of an always-on service
    max_tasks: int = 10  # the ServiceStack's autoscaling maximum
    requests_per_target_per_min: float | None = 1000.0  # the ServiceStack's request-count policy
    cpu_target_percent: float | None = 60.0  # the ServiceStack's CPU policy
    task_start_s: float = 60.0  # scale-out decision to a healthy task (modeled: provision, pull, start)
    public_task_ips: bool = True  # tasks in public subnets, each with a public IPv4 (the ServiceStack's default)
    container_warm_p99_ms: float = 10.0
    spot_discount: float | None = None  # None: the price file's dated typical discount
    new_connections_per_request: float = 0.05  # clients reuse keep-alive connections (assumed)
    keep_alive_min: float = 10.0
    nat_gateways: int = 0  # tasks in private subnets reach out through NAT gateways
    slo_p99_ms: float = 100.0
    deployed_options: list[str] = field(default_factory=list)  # what the synthesized stacks deploy (--from-cdk)
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def policy(self) -> ScalingPolicy:
        return ScalingPolicy(min_tasks=self.min_tasks, max_tasks=max(self.max_tasks, self.min_tasks),
                             requests_per_target_per_min=self.requests_per_target_per_min,
                             cpu_target_percent=self.cpu_target_percent, task_start_s=self.task_start_s)


def provisioned_for(inputs: Inputs, rates_per_s: NDArray[np.float64]) -> int:
    """The provisioned concurrency the option uses: the inputs', or the concurrency of the profile's
    peak minute (rate × duration, Little's law)."""
    if inputs.provisioned_concurrency is not None:
        return inputs.provisioned_concurrency
    return max(1, math.ceil(float(np.max(rates_per_s, initial=0.0)) * inputs.lambda_duration_ms / 1000.0))


def deployment(inputs: Inputs, rates_per_s: NDArray[np.float64]) -> Deployment:
    validate_fargate_size(inputs.fargate_vcpu, inputs.fargate_memory_gb)
    return Deployment(
        duration_ms=inputs.lambda_duration_ms, init_ms=inputs.lambda_init_ms, memory_mb=inputs.lambda_memory_mb,
        log_bytes_per_request=inputs.log_bytes_per_request, request_kb=inputs.request_kb,
        response_kb=inputs.response_kb, provisioned_concurrency=provisioned_for(inputs, rates_per_s),
        provisioned_hours_per_day=inputs.provisioned_hours_per_day,
        snapstart_restore_ms=inputs.snapstart_restore_ms if inputs.snapstart_restore_ms is not None
        else inputs.lambda_init_ms,
        fargate_vcpu=inputs.fargate_vcpu, fargate_memory_gb=inputs.fargate_memory_gb, policy=inputs.policy,
        per_task_rps=inputs.per_task_rps, public_task_ips=inputs.public_task_ips, nat_gateways=inputs.nat_gateways,
        new_connections_per_request=inputs.new_connections_per_request, spot_discount=inputs.spot_discount)


def option_names(inputs: Inputs, names: Sequence[str] | None) -> list[str]:
    """The options to evaluate (checked), with what the synthesized stacks deploy always among them."""
    chosen = list(names or DEFAULT_OPTIONS)
    for name in inputs.deployed_options:
        if name not in chosen:
            chosen.append(name)
    return [parse_option(n).name for n in chosen]


def simulation_key(option: Option) -> str:
    """Which simulation an option's latency comes from: the front door and the architecture do not
    change it here (neither is measured separately), the Lambda mode does."""
    if isinstance(option, LambdaOption):
        return f"lambda:{option.mode}" if option.mode else "lambda"
    return "fargate"


def blended_p99_ms(warm_p99_ms: float, cold_ms: float, cold_fraction: float) -> float:
    """p99 of a mix of warm and cold requests: once more than 1% are cold, the p99 is a cold start."""
    return cold_ms if cold_fraction > 0.01 else warm_p99_ms


def compare(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64], profile: str,
            simulated: dict[str, dict[str, Any]] | None = None, options: Sequence[str] | None = None
            ) -> dict[str, Any]:
    """Every option's monthly bill and p99. With `simulated` (per simulation key), the p99 that
    decides "meets the SLO" is the simulated one, cold starts and queueing included; without, the
    keep-alive formula's."""
    dep = deployment(inputs, rates_per_s)
    modeled_cold = cold_start_fraction(rates_per_s, duration_ms=inputs.lambda_duration_ms,
                                       keep_alive_min=inputs.keep_alive_min)
    requests = float(rates_per_s.sum() * 60.0)
    results: dict[str, dict[str, Any]] = {}
    for name in option_names(inputs, options):
        option = parse_option(name)
        sim = (simulated or {}).get(simulation_key(option))
        entry: dict[str, Any] = {"kind": option.kind, "label": option.label,
                                 "deployed": name in inputs.deployed_options}
        if isinstance(option, LambdaOption):
            cold_starts = float(sim["cold_starts"]) if sim else modeled_cold * requests
            if option.mode == "pc" and not sim:
                cold_starts = 0.0
            bill = lambda_bill_for(prices, option, dep, rates_per_s, cold_starts)
            p99 = blended_p99_ms(inputs.lambda_warm_p99_ms, inputs.lambda_cold_p50_ms,
                                 cold_starts / requests if requests else 0.0)
            entry.update(cold_fraction=cold_starts / requests if requests else 0.0,
                         provisioned_concurrency=dep.provisioned_concurrency if option.mode == "pc" else None)
        else:
            bill, running = fargate_bill_for(prices, option, dep, rates_per_s)
            p99 = inputs.container_warm_p99_ms
            entry.update(task_hours=float(running.sum()) / 60.0, max_tasks=float(running.max(initial=0.0)))
        entry["p99_source"] = sim["source"] if sim else \
            "modeled (warm p99, or the cold-start p50 once over 1% of requests are cold)"
        entry["p99_ms"] = float(sim["latency_ms"]["p99"]) if sim else p99
        if sim:
            entry["simulated"] = {k: v for k, v in sim.items() if k != "timeline"}
        entry.update(total_usd=bill.total_usd, lines=[line.as_dict() for line in bill.lines], requests=requests,
                     meets_slo=entry["p99_ms"] <= inputs.slo_p99_ms)
        results[name] = entry
    best, reasons = _recommend(results, inputs, profile, requests)
    return {"profile": profile, "options": results, "recommendation": best, "reasons": reasons,
            "inputs": asdict(inputs), "source": "modeled",
            "timelines": {k: v["timeline"] for k, v in (simulated or {}).items() if "timeline" in v}}


def _recommend(options: dict[str, dict[str, Any]], inputs: Inputs, profile: str, requests: float
               ) -> tuple[str, list[str]]:
    meeting = [k for k, v in options.items() if v["meets_slo"]]
    best = min(meeting or list(options), key=lambda k: options[k]["total_usd"])
    chosen = options[best]
    reasons = [f"{best} ({chosen['label']}) costs ${chosen['total_usd']:,.2f}/month at this traffic ({profile}, "
               f"{requests:,.0f} requests/month)" + ("" if meeting else
                                                     f"; no option meets the p99 SLO of {inputs.slo_p99_ms:g} ms, "
                                                     "so the cheapest is named")]
    other_kind = [k for k, v in options.items() if v["kind"] != chosen["kind"] and v["meets_slo"]]
    if other_kind:
        rival = min(other_kind, key=lambda k: options[k]["total_usd"])
        reasons.append(f"the cheapest {options[rival]['kind']} option meeting the SLO, {rival}, costs "
                       f"${options[rival]['total_usd']:,.2f}")
    reference = options.get(REFERENCE_OPTION)
    if reference is not None and best != REFERENCE_OPTION and reference["total_usd"] > 0:
        saving = 1.0 - chosen["total_usd"] / reference["total_usd"]
        reasons.append(f"{saving:.0%} {'cheaper' if saving >= 0 else 'dearer'} than {REFERENCE_OPTION} "
                       f"(${reference['total_usd']:,.2f})")
    cheaper_missing = sorted((k for k, v in options.items() if not v["meets_slo"]
                              and v["total_usd"] < chosen["total_usd"]), key=lambda k: options[k]["total_usd"])
    if cheaper_missing and meeting:
        k = cheaper_missing[0]
        reasons.append(f"{k} is cheaper but misses the p99 SLO of {inputs.slo_p99_ms:g} ms (p99 "
                       f"{options[k]['p99_ms']:.0f} ms{_why_slow(options[k])})")
    return best, reasons


def _why_slow(option: dict[str, Any]) -> str:
    sim = option.get("simulated")
    if sim is None:
        cold = option.get("cold_fraction") or 0.0
        return f", {cold:.1%} of requests cold" if cold > 0.01 else ""
    parts = [f"simulated: {sim['cold_starts'] / sim['requests']:.2%} of requests cold" if sim["cold_starts"] else "",
             f"{sim['throttled']:,.0f} throttled" if sim["throttled"] else "",
             f"{sim['failed']:,.0f} timed out" if sim["failed"] else "",
             f"up to {sim['max_instances']:.0f} tasks" if option["kind"] == "fargate" else ""]
    return "; " + ", ".join(p for p in parts if p) if any(parts) else ""


def sweep_constant_rates(prices: PriceBook, inputs: Inputs, rates_per_s: NDArray[np.float64],
                         options: Sequence[str] | None = None) -> dict[str, Any]:
    """Monthly cost of every option at constant request rates (vectorised), the cheapest Lambda and
    the cheapest container option at each rate, and where those two cross (break-even)."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    dep = deployment(inputs, rates)
    requests = rates * SECONDS_PER_MONTH
    with np.errstate(divide="ignore", invalid="ignore"):
        initial = np.where(requests > 0, np.ceil(rates * inputs.lambda_duration_ms / 1000.0) / requests, 0.0)
    cold = np.minimum(np.exp(-rates * inputs.keep_alive_min * 60.0) + initial, 1.0)
    curves = {}
    for name in option_names(inputs, options):
        option = parse_option(name)
        if isinstance(option, LambdaOption) and option.mode == "pc":
            # without a configured count, provisioned for each rate's own concurrency: the least that
            # holds that rate warm
            needed = np.maximum(1.0, np.ceil(rates * inputs.lambda_duration_ms / 1000.0)) \
                if inputs.provisioned_concurrency is None else None
            curves[name] = constant_rate_usd(prices, option, dep, rates, np.zeros_like(rates), needed)
        else:
            curves[name] = constant_rate_usd(prices, option, dep, rates, cold)
    lam_names = [k for k in curves if k.startswith("lambda")]
    far_names = [k for k in curves if k.startswith("fargate")]
    lam = np.min([curves[k] for k in lam_names], axis=0) if lam_names else np.full_like(rates, np.inf)
    far = np.min([curves[k] for k in far_names], axis=0) if far_names else np.full_like(rates, np.inf)
    diff = lam - far
    crossings = [float(np.interp(0.0, sorted([diff[i], diff[i + 1]]),
                                 [rates[i], rates[i + 1]] if diff[i] < diff[i + 1] else [rates[i + 1], rates[i]]))
                 for i in range(len(diff) - 1) if np.isfinite(diff[i]) and np.isfinite(diff[i + 1])
                 and np.sign(diff[i]) != np.sign(diff[i + 1])]
    return {"rates_per_s": rates.tolist(), "lambda_usd": lam.tolist(), "fargate_usd": far.tolist(),
            "cheapest_lambda": [lam_names[i] for i in np.argmin([curves[k] for k in lam_names], axis=0)]
            if lam_names else [],
            "cheapest_fargate": [far_names[i] for i in np.argmin([curves[k] for k in far_names], axis=0)]
            if far_names else [],
            "options": {k: v.tolist() for k, v in curves.items()}, "break_even_rps": crossings, "source": "modeled"}


__all__ = ["Inputs", "blended_p99_ms", "compare", "deployment", "option_names", "simulation_key",
           "sweep_constant_rates"]
