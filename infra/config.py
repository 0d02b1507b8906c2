"""One deployment configuration, read from CDK context (`-c key=value`) or a JSON file
(`-c config=path.json`), validated with errors that list what is accepted."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cost_model.container_costs import validate_fargate_size
from prediction_core.aws_limits import lambda_memory_problem, lambda_timeout_problem

# CloudWatch Logs retention periods (days) and the CDK names for them.
RETENTION_NAMES = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
                   60: "TWO_MONTHS", 90: "THREE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 731: "TWO_YEARS",
                   1827: "FIVE_YEARS", 3653: "TEN_YEARS"}
LOG_RETENTION_DAYS = tuple(RETENTION_NAMES)
CHOICES: dict[str, tuple[Any, ...]] = {
    "runtime": ("onnx", "sklearn", "lean"), "door": ("native", "asgi"), "packaging": ("zip", "image"),
    "arch": ("x86_64", "arm64"), "api_type": ("http", "rest", "url", "alb"), "log_retention_days": LOG_RETENTION_DAYS,
}
# cdk-nag findings of a public load balancer in its own VPC, shared by both stacks, with the reason each stays.
PUBLIC_ALB_SUPPRESSIONS = [
    {"id": "AwsSolutions-VPC7", "reason": "VPC flow logs cost per GB and are not part of the comparison; "
                                          "enable them for production."},
    {"id": "AwsSolutions-ELB2", "reason": "ALB access logs need an S3 bucket and cost per request; enable "
                                          "them for production."},
    {"id": "AwsSolutions-EC23", "reason": "A public HTTP endpoint on port 80 is the benchmark target; add an "
                                          "HTTPS listener with your certificate for production."},
]
HANDLERS = {"native": "functions.predict.handler.handler", "asgi": "functions.asgi.handler.handler"}


class ConfigError(ValueError):
    """A deployment setting is not one AWS (or twinserve) accepts."""


@dataclass
class DeploymentConfig:
    runtime: str = "onnx"
    door: str = "native"
    packaging: str = "zip"
    arch: str = "x86_64"
    memory_mb: int = 1024
    timeout_s: int = 10
    reserved_concurrency: int | None = None
    snapstart: bool = False
    provisioned_concurrency: int = 0
    log_retention_days: int = 30
    api_type: str = "http"
    base_path: str = ""  # a custom domain's base path mapping (e.g. /ml): the doors strip it before routing
    throttle_rate_per_s: int = 500
    throttle_burst: int = 1000
    fargate_vcpu: float = 0.5
    fargate_memory_gb: float = 1.0
    min_tasks: int = 2
    max_tasks: int = 10
    cpu_target_percent: int = 60
    # Request-count scaling target, in requests per target per MINUTE (the ALBRequestCountPerTarget
    # metric's unit). Derived from a measured per-task capacity when one is given:
    # per_task_capacity_rps × 60 × capacity_utilization.
    requests_per_target: int = 1000
    per_task_capacity_rps: float | None = None
    capacity_from: str = ""  # a results/<id> folder: its measured local-container saturation rate
    capacity_utilization: float = 0.7
    spot: bool = False
    private_subnets: bool = False
    container_insights: bool = False
    bundle: str = "build/bundles/default"  # the model the stacks deploy (the default is trained if missing)
    # Prebuilt directories, if any; empty (the default): synth builds them from `bundle`.
    package_dir: str = ""
    image_dir: str = ""
    container_dir: str = ""

    @property
    def handler(self) -> str:
        return HANDLERS[self.door]

    @property
    def container_workers(self) -> int:
        """Worker processes for a task of `fargate_vcpu` vCPUs: one per whole vCPU, at least one (the
        container itself would see the host's CPU count, not the task's share)."""
        return max(1, int(self.fargate_vcpu))

    @property
    def requests_per_target_per_minute(self) -> int:
        capacity = self.per_task_capacity_rps
        if capacity is None and self.capacity_from:
            from cost_model.from_results import inputs_from_results

            try:
                capacity = inputs_from_results(Path(self.capacity_from)).per_task_rps
            except (OSError, ValueError, KeyError) as exc:
                raise ConfigError(f"capacity_from={self.capacity_from!r}: no readable summary.json ({exc})") from None
        if capacity is None:
            return self.requests_per_target
        return max(1, round(capacity * 60 * self.capacity_utilization))

    def validate(self) -> DeploymentConfig:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not one of {', '.join(map(str, allowed))}")
        for name, problem in (("memory_mb", lambda_memory_problem(self.memory_mb)),
                              ("timeout_s", lambda_timeout_problem(self.timeout_s))):
            if problem:
                raise ConfigError(f"{name}: {problem}")
        if self.base_path and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.base_path):
            raise ConfigError(f"base_path={self.base_path!r}: empty, or a path like /ml or /ml/v1 (no trailing /)")
        if self.snapstart and self.provisioned_concurrency:
            raise ConfigError("snapstart and provisioned_concurrency cannot be combined (AWS refuses both)")
        if self.snapstart and self.packaging == "image":
            raise ConfigError("snapstart works with zip packages only, not container images")
        reserved = self.reserved_concurrency
        if self.provisioned_concurrency < 0 or (reserved is not None and reserved < 0):
            raise ConfigError("concurrency settings cannot be negative")
        if (self.reserved_concurrency is not None and self.provisioned_concurrency
                and self.provisioned_concurrency > self.reserved_concurrency):
            raise ConfigError("provisioned_concurrency cannot exceed reserved_concurrency")
        try:
            validate_fargate_size(self.fargate_vcpu, self.fargate_memory_gb)  # the cost model's own table
        except ValueError as exc:
            raise ConfigError(f"fargate_vcpu/fargate_memory_gb: {exc}") from None
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ConfigError(f"need 1 <= min_tasks <= max_tasks, got {self.min_tasks} and {self.max_tasks}")
        if not 1 <= self.cpu_target_percent <= 100:
            raise ConfigError(f"cpu_target_percent={self.cpu_target_percent}: 1 to 100")
        if self.per_task_capacity_rps is not None and self.per_task_capacity_rps <= 0:
            raise ConfigError(f"per_task_capacity_rps={self.per_task_capacity_rps}: must be positive")
        if not 0 < self.capacity_utilization <= 1:
            raise ConfigError(f"capacity_utilization={self.capacity_utilization}: more than 0, at most 1")
        if self.requests_per_target < 1:
            raise ConfigError(f"requests_per_target={self.requests_per_target}: at least 1")
        return self

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> DeploymentConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown settings {unknown}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key, raw in data.items():
            default = getattr(cls(), key)
            values[key] = _coerce(key, raw, default)
        return cls(**values).validate()

    @classmethod
    def from_context(cls, get: Any) -> DeploymentConfig:
        """From CDK context: `config` names a JSON file; any field may also be set on its own."""
        data: dict[str, Any] = {}
        path = get("config")
        if path:
            data.update(json.loads(Path(path).read_text()))
        for name in (f.name for f in fields(cls)):
            value = get(name)
            if value is not None:
                data[name] = value
        return cls.from_mapping(data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(key: str, raw: Any, default: Any) -> Any:
    """Context values given with -c arrive as strings."""
    if not isinstance(raw, str):
        return raw
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if isinstance(default, int) or (default is None and key.endswith("concurrency")):
            return int(raw)
        if default is None and key.endswith("_rps"):
            return float(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a {type(default).__name__}") from None
    return raw
