"""Each deployment option simulated under a traffic profile, from the cost model's inputs (and the
run's own latency samples when a results folder is given), for the verdict's "meets the SLO"."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cost_model.compare import Inputs, option_names, provisioned_for, simulation_key
from cost_model.options import parse_option
from twinserve.simulator.fargate_sim import FargateParams, simulate_fargate_aggregated
from twinserve.simulator.lambda_sim import LambdaParams, simulate_lambda_aggregated
from twinserve.simulator.result import SimResult

LAMBDA_CONCURRENCY_LIMIT = 1000  # an account's default, per region
Z99 = 2.3263  # the standard normal's 99th percentile
MIN_SAMPLES = 20  # fewer measured latencies than this: use the fitted law instead


def lognormal_samples(p50_ms: float, p99_ms: float, n: int = 5000, *, seed: int = 0) -> NDArray[np.float64]:
    """Latencies from a lognormal law through a median and a p99 (when only those were measured)."""
    sigma = max(math.log(max(p99_ms, p50_ms * 1.0001) / p50_ms) / Z99, 0.01)
    return np.random.default_rng(seed).lognormal(math.log(max(p50_ms, 1e-3)), sigma, n)


def measured_samples(results: Path | None) -> dict[str, NDArray[np.float64]]:
    """The run's answered latencies (results/<id>/raw.jsonl), as `samples_from_records` sorts them."""
    raw = results / "raw.jsonl" if results else None
    if raw is None or not raw.is_file():
        return {}
    return samples_from_records(json.loads(line) for line in raw.read_text().splitlines() if line)


def samples_from_records(records: Iterable[dict[str, Any]]) -> dict[str, NDArray[np.float64]]:
    """Answered latencies: warm and cold for the Lambda target, warm for the container."""
    found: dict[str, list[float]] = {"lambda_warm": [], "lambda_cold": [], "container_warm": []}
    for r in records:
        if r.get("status") != 200:
            continue
        kind = "lambda" if r["target"].startswith(("local-lambda", "aws-lambda")) else "container"
        if r["scenario"] == "warm":
            found[f"{kind}_warm"].append(r["latency_ms"])
        elif r["scenario"] == "cold-start" and kind == "lambda" and r.get("cold"):
            found["lambda_cold"].append(r["latency_ms"])
    return {k: np.asarray(v, dtype=np.float64) for k, v in found.items() if len(v) >= MIN_SAMPLES}


def option_params(inputs: Inputs, samples: dict[str, NDArray[np.float64]] | None = None
                  ) -> tuple[LambdaParams, FargateParams, dict[str, str]]:
    samples = samples or {}
    basis = {}
    warm = samples.get("lambda_warm")
    basis["lambda_warm"] = "measured warm latencies" if warm is not None else (
        f"lognormal through p50 {inputs.lambda_duration_ms:g} ms and p99 {inputs.lambda_warm_p99_ms:g} ms")
    cold = samples.get("lambda_cold")
    basis["lambda_cold"] = "measured cold-start latencies" if cold is not None else (
        f"lognormal through p50 {inputs.lambda_cold_p50_ms:g} ms (p99 1.5× that)")
    service = samples.get("container_warm")
    basis["container_service"] = "measured warm latencies" if service is not None else (
        f"lognormal through p50 {inputs.container_warm_p99_ms / 2:g} ms and p99 {inputs.container_warm_p99_ms:g} ms")
    warm_p99_ms = max(inputs.lambda_warm_p99_ms, inputs.lambda_duration_ms)
    lam = LambdaParams(
        warm_ms=warm if warm is not None else lognormal_samples(inputs.lambda_duration_ms, warm_p99_ms),
        cold_ms=cold if cold is not None else lognormal_samples(inputs.lambda_cold_p50_ms,
                                                                inputs.lambda_cold_p50_ms * 1.5, seed=1),
        concurrency_limit=LAMBDA_CONCURRENCY_LIMIT, keep_alive_s=inputs.keep_alive_min * 60.0)
    far = FargateParams(
        service_ms=service if service is not None else lognormal_samples(inputs.container_warm_p99_ms / 2,
                                                                         inputs.container_warm_p99_ms, seed=2),
        workers=max(1, int(inputs.fargate_vcpu)), min_tasks=inputs.policy.min_tasks,
        max_tasks=inputs.policy.max_tasks, requests_per_target_per_min=inputs.requests_per_target_per_min,
        cpu_target_percent=inputs.cpu_target_percent, task_start_s=inputs.task_start_s,
        capacity_per_task_rps=inputs.per_task_rps)
    return lam, far, basis


def simulate_options(inputs: Inputs, rates_per_s: NDArray[np.float64], *, bin_s: float = 60.0,
                     samples: dict[str, NDArray[np.float64]] | None = None,
                     options: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each simulation the options need (`cost_model.compare.simulation_key`), aggregated mode:
    Lambda on demand (every front door and architecture), with provisioned concurrency, with
    SnapStart (restore times for the cold starts), and Fargate (every architecture, Spot or not:
    Spot interruptions are not simulated)."""
    lam, far, basis = option_params(inputs, samples)
    counts = np.asarray(rates_per_s, dtype=np.float64) * bin_s
    keys = {simulation_key(parse_option(name)) for name in option_names(inputs, options)}
    results: dict[str, SimResult] = {}
    if "lambda" in keys:
        results["lambda"] = simulate_lambda_aggregated(counts, bin_s, lam)
    if "lambda:pc" in keys:
        pc = replace(lam, provisioned=min(provisioned_for(inputs, rates_per_s), lam.concurrency_limit),
                     name="lambda:pc")
        results["lambda:pc"] = simulate_lambda_aggregated(counts, bin_s, pc)
    if "lambda:snapstart" in keys:
        restore = inputs.snapstart_restore_ms
        snap = replace(lam, name="lambda:snapstart", cold_ms=lam.cold_ms if restore is None else
                       lognormal_samples(restore, restore * 1.5, seed=3))
        results["lambda:snapstart"] = simulate_lambda_aggregated(counts, bin_s, snap)
    if "fargate" in keys:
        results["fargate"] = simulate_fargate_aggregated(counts, bin_s, far)
    return {name: {**r.as_dict(), "basis": basis} for name, r in results.items()}
