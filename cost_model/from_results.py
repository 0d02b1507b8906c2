"""Model inputs from a benchmark run (results/<id>/summary.json), each with where it came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cost_model.compare import Inputs


def _group(summary: dict[str, Any], target_prefix: str, scenario: str) -> dict[str, Any] | None:
    groups: list[dict[str, Any]] = summary["groups"]
    for group in groups:
        if group["target"].startswith(target_prefix) and group["scenario"] == scenario:
            return group
    return None


def _stat(group: dict[str, Any] | None, key: str, stat: str) -> float | None:
    if group is None or key not in group or not group[key].get("count"):
        return None
    return float(group[key][stat])


def log_bytes_per_invocation(log: Path) -> tuple[float, int] | None:
    """Bytes CloudWatch Logs would ingest per invocation, from an emulator log: every line from the
    first START on (START, the handler's log lines and EMF metrics, END, REPORT), over the REPORT
    lines; None when the log holds no invocation."""
    total, reports, started = 0, 0, False
    with log.open("rb") as fh:
        for line in fh:
            started = started or line.startswith(b"START RequestId:")
            if started:
                total += len(line)
                reports += line.startswith(b"REPORT RequestId:")
    return (total / reports, reports) if reports else None


def inputs_from_results(results: Path) -> Inputs:
    summary = json.loads((results / "summary.json").read_text())
    inputs = Inputs()
    prov: dict[str, str] = {}
    where = f"measured-local, {results}"

    def take(field: str, group: dict[str, Any] | None, keys: tuple[str, ...], stat: str, how: str) -> None:
        """The first of `keys` the group has, labelled with the group's own source (local or AWS)."""
        value = next((v for v in (_stat(group, key, stat) for key in keys) if v is not None), None)
        if value is not None and group is not None:
            setattr(inputs, field, value)
            prov[field] = f"{how} ({group['source']}, {results})"
        else:
            prov[field] = "default (not in the results)"

    warm_lambda = _group(summary, "local-lambda", "warm") or _group(summary, "aws-lambda", "warm")
    cold_lambda = _group(summary, "local-lambda", "cold-start") or _group(summary, "aws-lambda", "cold-start")
    warm_container = _group(summary, "local-container", "warm") or _group(summary, "aws-container", "warm")
    take("lambda_duration_ms", warm_lambda, ("server_report_duration_ms",), "p50", "warm REPORT Duration p50")
    # Locally the emulator times INIT itself; on AWS it is the REPORT line's Init Duration, or
    # SnapStart's Restore Duration.
    take("lambda_init_ms", cold_lambda, ("server_init_ms", "server_report_init_ms", "server_report_restore_ms"),
         "p50", "cold-start Init (or Restore) Duration p50")
    take("lambda_warm_p99_ms", warm_lambda, ("latency_ms",), "p99", "warm latency p99")
    # Only the requests that really were cold: a cold-start group can hold warm ones when a forced
    # cold start did not take.
    take("lambda_cold_p50_ms", cold_lambda, ("latency_cold_ms", "latency_ms"), "p50", "cold-start latency p50")
    take("container_warm_p99_ms", warm_container, ("latency_ms",), "p99", "warm latency p99")
    memory = _stat(cold_lambda, "server_max_memory_used_mb", "max")
    lam_target = next((v for k, v in summary.get("targets", {}).items()
                       if k.startswith("local-lambda") or k.startswith("aws-lambda")), None)
    configured = (lam_target or {}).get("emulator", {}).get("memory_mb") or (lam_target or {}).get("memory_mb")
    if configured:
        inputs.lambda_memory_mb = int(configured)
        prov["lambda_memory_mb"] = f"configured memory of the measured function ({where}); max used {memory} MB"
    measured_log = log_bytes_per_invocation(results / "local-lambda-emulator.log") \
        if (results / "local-lambda-emulator.log").is_file() else None
    if measured_log is not None:
        inputs.log_bytes_per_request = measured_log[0]
        prov["log_bytes_per_request"] = (f"measured by the emulator: every line CloudWatch would ingest (START, the "
                                         f"handler's logs and EMF metrics, END, REPORT) over {measured_log[1]:,} "
                                         f"invocations ({where})")
    for key, findings in summary.get("findings", {}).items():
        is_service_saturation = key.startswith("local-container") and key.endswith("/saturation")
        if is_service_saturation and findings.get("per_instance_rate_per_s"):
            inputs.per_task_rps = float(findings["per_instance_rate_per_s"])
            container = summary.get("targets", {}).get(key.split("/")[0], {})
            how = (f"run as a {container['task_vcpu']:g} vCPU task: {container.get('cpu')}"
                   if container.get("task_vcpu") else
                   f"on the whole machine ({container.get('cpu', 'no CPU quota')}); assumes a Fargate task of "
                   f"{inputs.fargate_vcpu:g} vCPU matches it")
            prov["per_task_rps"] = (f"max sustainable rate of one service instance at p99 ≤ "
                                    f"{findings['slo_p99_ms']:g} ms ({where}), {how}")
    container_start = next((v.get("container_cold_path_p50_ms", {}).get("process_to_healthy_ms")
                            for k, v in summary.get("findings", {}).items()
                            if k.startswith("local-container") and k.endswith("/cold-start")), None)
    if container_start:
        prov["task_start_s"] = (f"modeled {inputs.task_start_s:g} s: Fargate's provisioning, image pull and the ALB's "
                                f"two health checks are not measured here; of it, process start to healthy measured "
                                f"here: {container_start:,.0f} ms ({where})")
    for name in ("per_task_rps", "fargate_vcpu", "fargate_memory_gb", "min_tasks", "max_tasks",
                 "requests_per_target_per_min", "cpu_target_percent", "task_start_s", "log_bytes_per_request",
                 "request_kb", "response_kb", "keep_alive_min", "new_connections_per_request"):
        prov.setdefault(name, f"default {getattr(inputs, name)!r} (assumed, not measured)")
    inputs.provenance = prov
    return inputs
