"""Always-on: Fargate tasks, the Application Load Balancer, a NAT gateway, data transfer out."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cost_model.bill import Bill, tiered_usd
from cost_model.prices import PriceBook

FARGATE_MIN_BILLED_S = 60  # per task, billed per second with a one-minute minimum
FARGATE_FREE_STORAGE_GB = 20
# Valid Fargate task sizes: vCPU -> allowed memory in GB (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html)
FARGATE_SIZES: dict[float, list[float]] = {
    0.25: [0.5, 1.0, 2.0],
    0.5: [float(g) for g in range(1, 5)],
    1.0: [float(g) for g in range(2, 9)],
    2.0: [float(g) for g in range(4, 17)],
    4.0: [float(g) for g in range(8, 31)],
    8.0: [float(g) for g in range(16, 61, 4)],
    16.0: [float(g) for g in range(32, 121, 8)],
}
# ALB capacity units: each dimension's amount that makes one LCU (https://aws.amazon.com/elasticloadbalancing/pricing/)
LCU_NEW_CONNECTIONS_PER_S = 25.0
LCU_ACTIVE_CONNECTIONS = 3000.0
LCU_PROCESSED_GB_PER_H = 1.0
LCU_PROCESSED_GB_PER_H_LAMBDA_TARGETS = 0.4
LCU_RULE_EVALUATIONS_PER_S = 1000.0
ALB_FREE_RULES = 10


def validate_fargate_size(vcpu: float, memory_gb: float) -> None:
    if vcpu not in FARGATE_SIZES:
        raise ValueError(f"{vcpu:g} vCPU is not a Fargate size; choose one of "
                         f"{', '.join(f'{v:g}' for v in FARGATE_SIZES)}")
    if memory_gb not in FARGATE_SIZES[vcpu]:
        allowed = FARGATE_SIZES[vcpu]
        raise ValueError(f"{memory_gb:g} GB is not valid with {vcpu:g} vCPU on Fargate; allowed: "
                         f"{allowed[0]:g} to {allowed[-1]:g} GB ({', '.join(f'{m:g}' for m in allowed)})")


def fargate_task_seconds(seconds_per_task: ArrayLike) -> NDArray[np.float64]:
    return np.maximum(np.asarray(seconds_per_task, dtype=np.float64), FARGATE_MIN_BILLED_S)


def fargate_bill(prices: PriceBook, *, vcpu: float, memory_gb: float, tasks: float, seconds_per_task: float,
                 arch: str = "x86_64", storage_gb: float = FARGATE_FREE_STORAGE_GB, spot_discount: float = 0.0) -> Bill:
    """`tasks` tasks each running `seconds_per_task` (1-minute minimum each); Spot as a discount fraction."""
    validate_fargate_size(vcpu, memory_gb)
    if not 0.0 <= spot_discount < 1.0:
        raise ValueError(f"--spot-discount is a fraction from 0 to below 1, got {spot_discount}")
    seconds = float(fargate_task_seconds(seconds_per_task)) * tasks
    factor = 1.0 - spot_discount
    spot = " (Spot)" if spot_discount else ""
    bill = Bill(inputs={"vcpu": vcpu, "memory_gb": memory_gb, "tasks": tasks, "seconds_per_task": seconds_per_task,
                        "arch": arch, "storage_gb": storage_gb, "spot_discount": spot_discount, "prices": prices.path})
    bill.add(f"Fargate vCPU ({arch}){spot}", vcpu * seconds, "vCPU-s",
             vcpu * seconds * prices.usd(f"fargate.vcpu.{arch}") * factor)
    bill.add(f"Fargate memory ({arch}){spot}", memory_gb * seconds, "GB-s",
             memory_gb * seconds * prices.usd(f"fargate.memory.{arch}") * factor)
    if storage_gb > FARGATE_FREE_STORAGE_GB:
        extra = (storage_gb - FARGATE_FREE_STORAGE_GB) * seconds
        bill.add("Fargate ephemeral storage above 20 GB", extra, "GB-s",
                 extra * prices.usd("fargate.ephemeral_storage"))
    return bill


def alb_lcus(*, new_connections_per_s: ArrayLike, connection_duration_s: float, requests_per_s: ArrayLike,
             processed_gb_per_hour: ArrayLike, rules: int, lambda_targets: bool = False) -> NDArray[np.float64]:
    """LCUs for an hour: the largest of the four dimensions."""
    new = np.asarray(new_connections_per_s, dtype=np.float64)
    active = new * connection_duration_s  # concurrent connections (Little's law)
    per_gb = LCU_PROCESSED_GB_PER_H_LAMBDA_TARGETS if lambda_targets else LCU_PROCESSED_GB_PER_H
    evaluations = np.asarray(requests_per_s, dtype=np.float64) * max(rules - ALB_FREE_RULES, 0)
    lcus = np.maximum.reduce([new / LCU_NEW_CONNECTIONS_PER_S, active / LCU_ACTIVE_CONNECTIONS,
                              np.asarray(processed_gb_per_hour, dtype=np.float64) / per_gb,
                              evaluations / LCU_RULE_EVALUATIONS_PER_S])
    return np.asarray(lcus, dtype=np.float64)


def alb_bill(prices: PriceBook, *, hours: float, new_connections_per_s: float, connection_duration_s: float,
             requests_per_s: float, processed_gb_per_hour: float, rules: int = 1) -> Bill:
    lcus = float(alb_lcus(new_connections_per_s=new_connections_per_s, connection_duration_s=connection_duration_s,
                          requests_per_s=requests_per_s, processed_gb_per_hour=processed_gb_per_hour, rules=rules))
    bill = Bill(inputs={"hours": hours, "new_connections_per_s": new_connections_per_s,
                        "connection_duration_s": connection_duration_s, "requests_per_s": requests_per_s,
                        "processed_gb_per_hour": processed_gb_per_hour, "rules": rules, "prices": prices.path})
    bill.add("ALB hours", hours, "ALB-hours", hours * prices.usd("alb.hours"))
    bill.add("ALB capacity units", lcus * hours, "LCU-hours", lcus * hours * prices.usd("alb.lcu_hours"))
    return bill


def nat_bill(prices: PriceBook, *, hours: float, processed_gb: float) -> Bill:
    bill = Bill(inputs={"nat_hours": hours, "nat_processed_gb": processed_gb})
    bill.add("NAT gateway hours", hours, "NAT-hours", hours * prices.usd("nat.hours"))
    bill.add("NAT gateway data processed", processed_gb, "GB", processed_gb * prices.usd("nat.processed"))
    return bill


def data_transfer_out_usd(prices: PriceBook, gb: ArrayLike) -> NDArray[np.float64]:
    return tiered_usd(gb, prices.tiers("data_transfer.out"))
