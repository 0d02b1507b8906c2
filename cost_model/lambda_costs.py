"""AWS Lambda: requests, duration (x86_64/arm64 tiers), free tier, billed INIT, provisioned
concurrency, SnapStart, ephemeral storage, CloudWatch Logs ingestion. All functions are pure."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cost_model.bill import Bill, tiered_usd
from cost_model.prices import PriceBook

MB_PER_GB = 1024
BYTES_PER_GB = 1024**3
EPHEMERAL_FREE_MB = 512
PROVISIONED_STEP_S = 300  # provisioned concurrency is billed in 5-minute steps, rounded up
SNAPSTART_MIN_CACHE_H = 3.0


def billed_duration_ms(duration_ms: ArrayLike, init_ms: ArrayLike = 0.0, cold_fraction: ArrayLike = 0.0
                       ) -> NDArray[np.float64]:
    """Mean billed milliseconds per request: 1 ms granularity, plus INIT on the cold fraction
    (billed for every function since 2025-08-01)."""
    billed = np.ceil(np.asarray(duration_ms, dtype=np.float64)) + np.asarray(cold_fraction) * np.asarray(init_ms)
    return np.asarray(billed, dtype=np.float64)


def gb_seconds(requests: ArrayLike, billed_ms: ArrayLike, memory_mb: float) -> NDArray[np.float64]:
    return np.asarray(np.asarray(requests, dtype=np.float64) * np.asarray(billed_ms) / 1000.0 * memory_mb / MB_PER_GB,
                      dtype=np.float64)


def lambda_monthly_usd(prices: PriceBook, *, requests: ArrayLike, duration_ms: ArrayLike, memory_mb: float,
                       arch: str = "x86_64", free_tier: bool = False, init_ms: ArrayLike = 0.0,
                       cold_fraction: ArrayLike = 0.0, log_bytes_per_request: float = 0.0) -> NDArray[np.float64]:
    """Vectorised on-demand monthly cost (requests + duration + logs) for arrays of traffic."""
    req = np.asarray(requests, dtype=np.float64)
    gbs = gb_seconds(req, billed_duration_ms(duration_ms, init_ms, cold_fraction), memory_mb)
    billable_req, billable_gbs = req, gbs
    if free_tier:
        billable_req = np.maximum(req - prices.quantity("lambda.free_tier.requests"), 0.0)
        billable_gbs = np.maximum(gbs - prices.quantity("lambda.free_tier.gb_s"), 0.0)
    usd = (billable_req * prices.usd("lambda.requests")
           + tiered_usd(billable_gbs, prices.tiers(f"lambda.duration.{arch}")))
    if log_bytes_per_request:
        usd = usd + tiered_usd(req * log_bytes_per_request / BYTES_PER_GB, prices.tiers("cloudwatch.logs.ingestion"))
    return usd


def lambda_bill(prices: PriceBook, *, requests: float, duration_ms: float, memory_mb: float, arch: str = "x86_64",
                free_tier: bool = False, ephemeral_mb: float = EPHEMERAL_FREE_MB, init_ms: float = 0.0,
                cold_fraction: float = 0.0, provisioned_concurrency: int = 0, provisioned_hours: float = 0.0,
                provisioned_requests: float | None = None, provisioned_duration_ms: float | None = None,
                snapstart: bool = False, cache_hours: float = 0.0, restores: int = 0,
                log_bytes_per_request: float = 0.0) -> Bill:
    """One month (or any period) of one function, as line items. With provisioned concurrency,
    `provisioned_requests` of the `requests` ran on it (default: as many as its capacity over the
    window holds at the mean concurrency), at `provisioned_duration_ms` (default: `duration_ms`)."""
    bill = Bill(inputs={"requests": requests, "duration_ms": duration_ms, "memory_mb": memory_mb, "arch": arch,
                        "free_tier": free_tier, "init_ms": init_ms, "cold_fraction": cold_fraction,
                        "provisioned_concurrency": provisioned_concurrency, "provisioned_hours": provisioned_hours,
                        "provisioned_requests": provisioned_requests, "snapstart": snapstart,
                        "ephemeral_mb": ephemeral_mb, "prices": prices.path})
    if provisioned_requests is not None and not 0 <= provisioned_requests <= requests:
        raise ValueError(f"--provisioned-requests must be 0 to --requests ({requests:g}), got {provisioned_requests:g}")
    memory_gb = memory_mb / MB_PER_GB
    billed_ms = float(billed_duration_ms(duration_ms, init_ms, cold_fraction))
    on_demand_requests = requests
    if provisioned_concurrency:
        # Provisioned GB-s for the time it is configured (5-minute steps), then the requests that ran
        # on it at the discounted duration rate; the rest ran on demand. AWS's own example applies the
        # free tier to the on-demand part (https://aws.amazon.com/lambda/pricing/, provisioned
        # concurrency example: $19.96).
        seconds = math.ceil(provisioned_hours * 3600 / PROVISIONED_STEP_S) * PROVISIONED_STEP_S
        provisioned_gbs = provisioned_concurrency * memory_gb * seconds
        bill.add(f"Lambda provisioned concurrency ({arch})", provisioned_gbs, "GB-s",
                 provisioned_gbs * prices.usd(f"lambda.provisioned.{arch}"))
        pc_ms = float(np.ceil(provisioned_duration_ms if provisioned_duration_ms is not None else duration_ms))
        if provisioned_requests is None:
            mean_concurrency = requests * billed_ms / 1000.0 / seconds if seconds else math.inf
            share = min(1.0, provisioned_concurrency / mean_concurrency) if mean_concurrency > 0 else 1.0
            provisioned_requests = requests * share
        on_demand_requests = requests - provisioned_requests
        pc_gbs = float(gb_seconds(provisioned_requests, pc_ms, memory_mb))
        bill.add(f"Lambda duration on provisioned concurrency ({arch})", pc_gbs, "GB-s",
                 pc_gbs * prices.usd(f"lambda.provisioned_duration.{arch}"))
    billable_requests = max(requests - prices.quantity("lambda.free_tier.requests"), 0.0) if free_tier else requests
    bill.add("Lambda requests", billable_requests, "requests", billable_requests * prices.usd("lambda.requests"))
    gbs = float(gb_seconds(on_demand_requests, billed_ms, memory_mb))
    billable_gbs = max(gbs - prices.quantity("lambda.free_tier.gb_s"), 0.0) if free_tier else gbs
    bill.add(f"Lambda duration ({arch})", billable_gbs, "GB-s",
             float(tiered_usd(billable_gbs, prices.tiers(f"lambda.duration.{arch}"))))
    if snapstart:
        cache_gbs = memory_gb * max(cache_hours, SNAPSTART_MIN_CACHE_H) * 3600
        bill.add("Lambda SnapStart cache", cache_gbs, "GB-s", cache_gbs * prices.usd("lambda.snapstart.cache"))
        restored_gb = restores * memory_gb
        bill.add("Lambda SnapStart restores", restored_gb, "GB", restored_gb * prices.usd("lambda.snapstart.restore"))
    if ephemeral_mb > EPHEMERAL_FREE_MB:
        storage_gbs = (ephemeral_mb - EPHEMERAL_FREE_MB) / MB_PER_GB * requests * billed_ms / 1000.0
        bill.add("Lambda ephemeral storage above 512 MB", storage_gbs, "GB-s",
                 storage_gbs * prices.usd("lambda.ephemeral_storage"))
    if log_bytes_per_request:
        log_gb = requests * log_bytes_per_request / BYTES_PER_GB
        bill.add("CloudWatch Logs ingestion", log_gb, "GB",
                 float(tiered_usd(log_gb, prices.tiers("cloudwatch.logs.ingestion"))))
    return bill
