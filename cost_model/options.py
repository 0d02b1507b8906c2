"""Deployment options a team weighs, each priced the way the stacks deploy it, as line items.

Lambda × front door {HTTP API, REST API, function URL, ALB} × {x86_64, arm64} × {on demand,
provisioned concurrency N for H hours a day, SnapStart}; Fargate × {x86_64, arm64} × {on demand,
Spot}. An option is named `lambda:<door>:<arch>[:pc|:snapstart]` or `fargate:<arch>[:spot]`.

Every option carries the charges AWS bills for it: data transfer out (tiered, first 100 GB free),
Lambda logs from the bytes per request (ingestion tiers and storage), public IPv4 addresses
(Fargate tasks with public IPs and the ALB's per-zone addresses), whole ALB hours, Fargate tasks
from the ServiceStack's scaling policy in whole minutes (per-second billing with a one-minute
minimum, as each minute's running tasks), Spot at a dated typical discount with its range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

from cost_model.apigw_costs import metered_requests
from cost_model.bill import Bill, tiered_usd
from cost_model.container_costs import alb_lcus, data_transfer_out_usd
from cost_model.fleet import ScalingPolicy, fleet_per_minute, steady_tasks
from cost_model.lambda_costs import BYTES_PER_GB, MB_PER_GB
from cost_model.prices import PriceBook
from cost_model.traffic import MINUTES_PER_MONTH

FrontDoor: TypeAlias = Literal["http", "rest", "url", "alb"]
Arch: TypeAlias = Literal["x86_64", "arm64"]
FRONT_DOORS: dict[str, str] = {"http": "API Gateway HTTP API", "rest": "API Gateway REST API",
                               "url": "function URL", "alb": "Application Load Balancer"}
ARCHES = ("x86_64", "arm64")
LAMBDA_MODES = ("", "pc", "snapstart")
ALB_ZONES = 2  # an internet-facing ALB has an address per zone, each a billed public IPv4
HOURS_PER_MONTH = MINUTES_PER_MONTH / 60
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60.0
KB_PER_GB = 1024.0 * 1024.0


@dataclass(frozen=True)
class LambdaOption:
    front_door: FrontDoor = "http"
    arch: Arch = "x86_64"
    mode: Literal["", "pc", "snapstart"] = ""

    kind = "lambda"

    @property
    def name(self) -> str:
        return ":".join(p for p in ("lambda", self.front_door, self.arch, self.mode) if p)

    @property
    def label(self) -> str:
        mode = {"": "", "pc": ", provisioned concurrency", "snapstart": ", SnapStart"}[self.mode]
        return f"Lambda {self.arch} behind {FRONT_DOORS[self.front_door]}{mode}"


@dataclass(frozen=True)
class FargateOption:
    arch: Arch = "x86_64"
    spot: bool = False

    kind = "fargate"

    @property
    def name(self) -> str:
        return f"fargate:{self.arch}" + (":spot" if self.spot else "")

    @property
    def label(self) -> str:
        return f"Fargate {self.arch}{' Spot' if self.spot else ''} behind an ALB"


Option: TypeAlias = LambdaOption | FargateOption
DEFAULT_OPTIONS = ("lambda:http:x86_64", "lambda:http:arm64", "lambda:rest:x86_64", "lambda:url:x86_64",
                   "lambda:url:arm64", "lambda:alb:x86_64", "lambda:http:x86_64:pc", "lambda:http:x86_64:snapstart",
                   "fargate:x86_64", "fargate:arm64", "fargate:x86_64:spot", "fargate:arm64:spot")


def parse_option(name: str) -> Option:
    """`lambda:<http|rest|url|alb>:<x86_64|arm64>[:pc|:snapstart]` or `fargate:<x86_64|arm64>[:spot]`."""
    parts = name.strip().lower().split(":")
    usage = ("options are lambda:<http|rest|url|alb>:<x86_64|arm64>[:pc|:snapstart] or "
             "fargate:<x86_64|arm64>[:spot]")
    if parts[0] == "lambda" and len(parts) in (3, 4) and parts[1] in FRONT_DOORS and parts[2] in ARCHES \
            and (len(parts) == 3 or parts[3] in LAMBDA_MODES[1:]):
        return LambdaOption(parts[1], parts[2], parts[3] if len(parts) == 4 else "")  # type: ignore[arg-type]
    if parts[0] == "fargate" and len(parts) in (2, 3) and parts[1] in ARCHES \
            and (len(parts) == 2 or parts[2] == "spot"):
        return FargateOption(parts[1], len(parts) == 3)  # type: ignore[arg-type]
    raise ValueError(f"unknown option {name!r}: {usage}")


@dataclass(frozen=True)
class Deployment:
    """What the options share: the function, the service, the traffic's sizes (from the inputs)."""

    duration_ms: float
    init_ms: float
    memory_mb: int
    log_bytes_per_request: float
    request_kb: float
    response_kb: float
    provisioned_concurrency: int
    provisioned_hours_per_day: float
    snapstart_restore_ms: float
    fargate_vcpu: float
    fargate_memory_gb: float
    policy: ScalingPolicy
    per_task_rps: float
    public_task_ips: bool
    nat_gateways: int
    new_connections_per_request: float
    spot_discount: float | None  # None: the price file's dated typical discount


def data_transfer_lines(bill: Bill, prices: PriceBook, requests: float, response_kb: float) -> None:
    gb = requests * response_kb / KB_PER_GB
    bill.add("Data transfer out to the internet (first 100 GB/month free)", gb, "GB",
             float(data_transfer_out_usd(prices, gb)))


def alb_lines(bill: Bill, prices: PriceBook, dep: Deployment, rates_per_s: NDArray[np.float64], *,
              lambda_targets: bool) -> None:
    """Whole ALB hours (a partial hour is billed as one), LCUs hour by hour, its per-zone IPv4s."""
    hours = math.ceil(rates_per_s.size / 60)
    lcus = _lcus(dep, np.resize(rates_per_s, hours * 60).reshape(hours, 60).mean(axis=1), lambda_targets)
    bill.add("ALB hours (whole hours)", hours, "ALB-hours", hours * prices.usd("alb.hours"))
    bill.add("ALB capacity units" + (" (Lambda targets)" if lambda_targets else ""), float(lcus.sum()), "LCU-hours",
             float(lcus.sum()) * prices.usd("alb.lcu_hours"))
    bill.add("Public IPv4 addresses (ALB, one per zone)", ALB_ZONES * hours, "IP-hours",
             ALB_ZONES * hours * prices.usd("ipv4.public_hours"))


def lambda_bill_for(prices: PriceBook, option: LambdaOption, dep: Deployment, rates_per_s: NDArray[np.float64],
                    cold_starts: float) -> Bill:
    """One month of the option for per-minute request rates, with `cold_starts` (simulated or modeled)."""
    requests = float(rates_per_s.sum() * 60.0)
    memory_gb = dep.memory_mb / MB_PER_GB
    bill = Bill(inputs={"option": option.name, "requests": requests, "cold_starts": cold_starts})
    bill.add("Lambda requests", requests, "requests", requests * prices.usd("lambda.requests"))
    busy_s = requests * math.ceil(dep.duration_ms) / 1000.0
    on_demand_s = busy_s
    if option.mode == "pc":
        n, window_h = dep.provisioned_concurrency, dep.provisioned_hours_per_day
        in_window = (np.arange(rates_per_s.size) % (24 * 60)) < window_h * 60
        configured_s = math.ceil(float(in_window.sum()) * 60 / 300) * 300  # 5-minute steps, rounded up
        bill.add(f"Lambda provisioned concurrency ({option.arch}): {n} × {dep.memory_mb} MB, {window_h:g} h/day",
                 n * memory_gb * configured_s, "GB-s", n * memory_gb * configured_s
                 * prices.usd(f"lambda.provisioned.{option.arch}"))
        concurrency = rates_per_s * math.ceil(dep.duration_ms) / 1000.0
        on_pc_s = float((np.minimum(concurrency, n) * in_window).sum() * 60.0)
        bill.add(f"Lambda duration on provisioned concurrency ({option.arch})", on_pc_s * memory_gb, "GB-s",
                 on_pc_s * memory_gb * prices.usd(f"lambda.provisioned_duration.{option.arch}"))
        on_demand_s = busy_s - on_pc_s
    init_s = cold_starts * dep.init_ms / 1000.0
    if option.mode == "snapstart":
        restored_gb = cold_starts * memory_gb
        cache_gbs = memory_gb * SECONDS_PER_MONTH * rates_per_s.size / MINUTES_PER_MONTH
        bill.add("Lambda SnapStart cache (one published version)", cache_gbs, "GB-s",
                 cache_gbs * prices.usd("lambda.snapstart.cache"))
        bill.add("Lambda SnapStart restores", restored_gb, "GB", restored_gb * prices.usd("lambda.snapstart.restore"))
        init_s = cold_starts * dep.snapstart_restore_ms / 1000.0
    gbs = (on_demand_s + init_s) * memory_gb
    bill.add(f"Lambda duration ({option.arch}, INIT billed)", gbs, "GB-s",
             float(tiered_usd(gbs, prices.tiers(f"lambda.duration.{option.arch}"))))
    log_gb = requests * dep.log_bytes_per_request / BYTES_PER_GB
    bill.add("CloudWatch Logs ingestion", log_gb, "GB",
             float(tiered_usd(log_gb, prices.tiers("cloudwatch.logs.ingestion"))))
    bill.add("CloudWatch Logs storage (a month's logs, kept)", log_gb, "GB-month",
             log_gb * prices.usd("cloudwatch.logs.storage"))
    if option.front_door in ("http", "rest"):
        metered = float(metered_requests(requests, dep.request_kb, option.front_door))
        bill.add(f"{FRONT_DOORS[option.front_door]} requests", metered, "requests",
                 float(tiered_usd(metered, prices.tiers(f"apigw.{option.front_door}.requests"))))
    elif option.front_door == "alb":
        alb_lines(bill, prices, dep, rates_per_s, lambda_targets=True)
    data_transfer_lines(bill, prices, requests, dep.response_kb)
    return bill


def spot_factor(prices: PriceBook, dep: Deployment, spot: bool) -> tuple[float, str]:
    if not spot:
        return 1.0, ""
    item = prices.items["fargate.spot_discount"]
    discount = dep.spot_discount if dep.spot_discount is not None else float(item["typical"])
    return 1.0 - discount, (f" (Spot, {discount:.0%} off; typical as of {item['as_of']}, range "
                            f"{item['low']:.0%}-{item['high']:.0%})")


def fargate_bill_for(prices: PriceBook, option: FargateOption, dep: Deployment, rates_per_s: NDArray[np.float64]
                     ) -> tuple[Bill, NDArray[np.float64]]:
    """One month of the option for per-minute rates; also the tasks running each minute."""
    running, _ = fleet_per_minute(dep.policy, rates_per_s, dep.per_task_rps)
    task_s = float(running.sum() * 60.0)  # whole minutes: per-second billing, one-minute minimum, met
    requests = float(rates_per_s.sum() * 60.0)
    factor, spot = spot_factor(prices, dep, option.spot)
    bill = Bill(inputs={"option": option.name, "requests": requests, "task_hours": task_s / 3600,
                        "max_tasks": float(running.max(initial=0))})
    bill.add(f"Fargate vCPU ({option.arch}){spot}", dep.fargate_vcpu * task_s, "vCPU-s",
             dep.fargate_vcpu * task_s * prices.usd(f"fargate.vcpu.{option.arch}") * factor)
    bill.add(f"Fargate memory ({option.arch}){spot}", dep.fargate_memory_gb * task_s, "GB-s",
             dep.fargate_memory_gb * task_s * prices.usd(f"fargate.memory.{option.arch}") * factor)
    if dep.public_task_ips:
        bill.add("Public IPv4 addresses (one per task)", task_s / 3600, "IP-hours",
                 task_s / 3600 * prices.usd("ipv4.public_hours"))
    alb_lines(bill, prices, dep, rates_per_s, lambda_targets=False)
    if dep.nat_gateways:
        hours = dep.nat_gateways * math.ceil(rates_per_s.size / 60)
        bill.add("NAT gateway hours", hours, "NAT-hours", hours * prices.usd("nat.hours"))
    data_transfer_lines(bill, prices, requests, dep.response_kb)
    return bill, running


def constant_rate_usd(prices: PriceBook, option: Option, dep: Deployment, rates_per_s: NDArray[np.float64],
                      cold_fraction: NDArray[np.float64], provisioned: NDArray[np.float64] | None = None
                      ) -> NDArray[np.float64]:
    """Monthly cost at constant rates, vectorised over the rates (the sweep and the break-even):
    the same lines as the bills above, with the steady fleet of the scaling policy; `provisioned`,
    per rate, replaces the deployment's provisioned concurrency."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    requests = rates * SECONDS_PER_MONTH
    usd = data_transfer_out_usd(prices, requests * dep.response_kb / KB_PER_GB)
    if isinstance(option, LambdaOption):
        memory_gb = dep.memory_mb / MB_PER_GB
        busy_s = requests * math.ceil(dep.duration_ms) / 1000.0
        on_demand_s = busy_s
        usd = usd + requests * prices.usd("lambda.requests")
        if option.mode == "pc":
            n = provisioned if provisioned is not None else np.full_like(rates, dep.provisioned_concurrency)
            share = dep.provisioned_hours_per_day / 24.0
            configured_s = math.ceil(SECONDS_PER_MONTH * share / 300) * 300
            usd = usd + n * memory_gb * configured_s * prices.usd(f"lambda.provisioned.{option.arch}")
            on_pc_s = np.minimum(rates * math.ceil(dep.duration_ms) / 1000.0, n) * SECONDS_PER_MONTH * share
            usd = usd + on_pc_s * memory_gb * prices.usd(f"lambda.provisioned_duration.{option.arch}")
            on_demand_s = busy_s - on_pc_s
        init_ms = dep.init_ms
        if option.mode == "snapstart":
            init_ms = dep.snapstart_restore_ms
            usd = usd + memory_gb * SECONDS_PER_MONTH * prices.usd("lambda.snapstart.cache") \
                + requests * cold_fraction * memory_gb * prices.usd("lambda.snapstart.restore")
        gbs = (on_demand_s + requests * cold_fraction * init_ms / 1000.0) * memory_gb
        usd = usd + tiered_usd(gbs, prices.tiers(f"lambda.duration.{option.arch}"))
        log_gb = requests * dep.log_bytes_per_request / BYTES_PER_GB
        usd = usd + tiered_usd(log_gb, prices.tiers("cloudwatch.logs.ingestion")) \
            + log_gb * prices.usd("cloudwatch.logs.storage")
        if option.front_door in ("http", "rest"):
            usd = usd + tiered_usd(metered_requests(requests, dep.request_kb, option.front_door),
                                   prices.tiers(f"apigw.{option.front_door}.requests"))
        elif option.front_door == "alb":
            usd = usd + _alb_constant_usd(prices, dep, rates, lambda_targets=True)
        return np.asarray(usd, dtype=np.float64)
    tasks = steady_tasks(dep.policy, rates, dep.per_task_rps)
    task_s = tasks * SECONDS_PER_MONTH
    factor, _ = spot_factor(prices, dep, option.spot)
    usd = usd + task_s * factor * (dep.fargate_vcpu * prices.usd(f"fargate.vcpu.{option.arch}")
                                   + dep.fargate_memory_gb * prices.usd(f"fargate.memory.{option.arch}"))
    if dep.public_task_ips:
        usd = usd + task_s / 3600 * prices.usd("ipv4.public_hours")
    usd = usd + _alb_constant_usd(prices, dep, rates, lambda_targets=False)
    if dep.nat_gateways:
        usd = usd + dep.nat_gateways * HOURS_PER_MONTH * prices.usd("nat.hours")
    return np.asarray(usd, dtype=np.float64)


def _lcus(dep: Deployment, rates_per_s: NDArray[np.float64], lambda_targets: bool) -> NDArray[np.float64]:
    """LCUs of an hour at each request rate (the monthly bill's hours, or the sweep's constant rates)."""
    gb_per_hour = rates_per_s * 3600 * (dep.request_kb + dep.response_kb) / KB_PER_GB
    return alb_lcus(new_connections_per_s=rates_per_s * dep.new_connections_per_request, connection_duration_s=60,
                    requests_per_s=rates_per_s, processed_gb_per_hour=gb_per_hour, rules=1,
                    lambda_targets=lambda_targets)


def _alb_constant_usd(prices: PriceBook, dep: Deployment, rates: NDArray[np.float64], *,
                      lambda_targets: bool) -> NDArray[np.float64]:
    lcus = _lcus(dep, rates, lambda_targets)
    return np.asarray(HOURS_PER_MONTH * (prices.usd("alb.hours") + lcus * prices.usd("alb.lcu_hours")
                                         + ALB_ZONES * prices.usd("ipv4.public_hours")), dtype=np.float64)


__all__ = ["DEFAULT_OPTIONS", "SECONDS_PER_MONTH", "Deployment", "FargateOption", "LambdaOption", "Option",
           "constant_rate_usd", "fargate_bill_for", "lambda_bill_for", "parse_option"]
