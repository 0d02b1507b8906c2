"""What the emulator runs: one function's configuration, checked against Lambda's limits, and what
an invocation comes back as."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, TypeAlias

from benchmarks.reportlog import Report
from prediction_core.aws_limits import LAMBDA, lambda_memory_problem, lambda_timeout_problem
from twinserve.emulator.exceptions import ConfigError

SYNC_PAYLOAD_LIMIT_BYTES = LAMBDA.sync_payload_bytes  # request and response, synchronous invokes
INIT_LIMIT_S = float(LAMBDA.init_phase_s)
ACCOUNT_ID = "123456789012"

InvokeStatus: TypeAlias = Literal["ok", "function_error", "throttled", "too_large"]


@dataclass
class FunctionConfig:
    package: Path
    handler: str
    function_name: str = "predict"
    memory_mb: int = 1024
    timeout_s: float = 3.0
    concurrency: int = 10
    keep_alive_s: float = 300.0
    init_timeout_s: float = INIT_LIMIT_S
    region: str = "us-east-1"
    environment: dict[str, str] = field(default_factory=dict)
    log_file: Path | None = None
    echo: TextIO | None = None  # where to print log lines as they come (sam-local style), if anywhere
    runtime_layer: Path | None = None
    use_cgroups: bool = True
    package_report: dict[str, Any] = field(default_factory=dict)  # what `twinserve package` wrote, if any

    def validate(self) -> None:
        for flag, problem in (("--memory-mb", lambda_memory_problem(self.memory_mb)),
                              ("--timeout-s", lambda_timeout_problem(self.timeout_s))):
            if problem:
                raise ConfigError(f"{flag}: {problem}")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.keep_alive_s < 0:
            raise ConfigError(f"--keep-alive-s must be 0 or more, got {self.keep_alive_s}")
        if not (self.package / self.handler.rsplit(".", 1)[0].replace(".", "/")).with_suffix(".py").is_file():
            raise ConfigError(f"handler {self.handler!r} not found in package {self.package}")

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


@dataclass
class InvokeOutcome:
    request_id: str
    status: InvokeStatus
    payload: bytes = b""
    function_error: str | None = None
    cold: bool = False
    env_id: str | None = None
    init_ms: float | None = None
    duration_ms: float | None = None
    report: Report | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
