"""The deployed stacks as benchmark targets, through boto3.

Endpoints come from the CloudFormation outputs of the CDK stacks (or are given as URLs). A cold
start is forced by changing an environment variable and waiting for LastUpdateStatus=Successful
(the method lambda-perf and SeBS use). Init Duration, Duration, Billed Duration and Max Memory
Used come from the REPORT lines in CloudWatch Logs, joined to client latencies by request id
(the native handler answers with the Lambda request id in x-request-id).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from benchmarks.harness.targets import Source, TargetKind
from benchmarks.reportlog import Report, parse_report

# Output keys of the CDK stacks (infra/): the contract between the deployment and the harness.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_FUNCTION_NAME = "FunctionName"
OUTPUT_LOG_GROUP = "LogGroupName"
OUTPUT_SERVICE_URL = "ServiceUrl"
FORCE_COLD_VARIABLE = "TWINSERVE_FORCE_COLD"
REPORT_PATTERN = '"REPORT RequestId"'


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _endpoint(url: str) -> tuple[str, int, str, bool]:
    parsed = urlparse(url)
    tls = parsed.scheme == "https"
    return parsed.hostname or "", parsed.port or (443 if tls else 80), parsed.path.rstrip("/"), tls


@dataclass
class AwsLambdaTarget:
    api_url: str
    function_name: str
    log_group: str
    lambda_client: Any
    logs_client: Any
    timeout_s: float = 29.0
    report_wait_s: float = 60.0
    name: str = "aws-lambda"
    kind: TargetKind = "lambda"
    source: Source = "measured-aws"
    host: str = ""
    port: int = 443
    path_prefix: str = ""
    tls: bool = True
    started_ms: int = 0
    sleep: Callable[[float], None] = time.sleep  # injectable, so tests need not wait
    _reports: dict[str, Report] = field(default_factory=dict)

    @classmethod
    def from_stack(cls, stack_name: str, *, cloudformation: Any, lambda_client: Any,
                   logs_client: Any) -> AwsLambdaTarget:
        outputs = stack_outputs(cloudformation, stack_name)
        missing = [k for k in (OUTPUT_API_URL, OUTPUT_FUNCTION_NAME, OUTPUT_LOG_GROUP) if k not in outputs]
        if missing:
            raise ValueError(f"stack {stack_name} has no outputs {missing}; is it the twinserve function stack?")
        return cls(outputs[OUTPUT_API_URL], outputs[OUTPUT_FUNCTION_NAME], outputs[OUTPUT_LOG_GROUP],
                   lambda_client, logs_client)

    def start(self) -> None:
        self.host, self.port, self.path_prefix, self.tls = _endpoint(self.api_url)
        config = self.lambda_client.get_function_configuration(FunctionName=self.function_name)
        self.timeout_s = float(config.get("Timeout", self.timeout_s))
        self.started_ms = int(time.time() * 1000) - 60_000

    def stop(self) -> None:
        """Nothing to stop: the stack stays deployed."""

    def force_cold(self) -> None:
        config = self.lambda_client.get_function_configuration(FunctionName=self.function_name)
        variables = dict(config.get("Environment", {}).get("Variables", {}))
        variables[FORCE_COLD_VARIABLE] = uuid.uuid4().hex
        self.lambda_client.update_function_configuration(FunctionName=self.function_name,
                                                         Environment={"Variables": variables})
        self.wait_updated()

    def wait_updated(self, timeout_s: float = 120.0, poll_s: float = 1.0) -> None:
        """Until LastUpdateStatus is Successful: only then do new requests reach new environments."""
        deadline = time.monotonic() + timeout_s
        while True:
            config = self.lambda_client.get_function_configuration(FunctionName=self.function_name)
            status = config.get("LastUpdateStatus", "Successful")
            if status == "Successful":
                return
            if status == "Failed":
                raise RuntimeError(f"update of {self.function_name} failed: {config.get('LastUpdateStatusReason')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.function_name} still {status} after {timeout_s:.0f} s")
            self.sleep(poll_s)

    def reports(self, wanted: set[str] | None = None) -> dict[str, Report]:
        """REPORT lines from CloudWatch Logs since the run started (they arrive with a delay)."""
        deadline = time.monotonic() + (self.report_wait_s if wanted else 0)
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self.started_ms,
                                      "filterPattern": REPORT_PATTERN}
            while True:
                page = self.logs_client.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    report = parse_report(event["message"])
                    if report is not None:
                        self._reports[report.request_id] = report
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
            if not wanted or wanted <= set(self._reports) or time.monotonic() > deadline:
                return self._reports
            self.sleep(2)

    def describe(self) -> dict[str, Any]:
        c = self.lambda_client.get_function_configuration(FunctionName=self.function_name)
        return {"target": self.name, "source": self.source, "function": self.function_name,
                "memory_mb": c.get("MemorySize"), "timeout_s": c.get("Timeout"), "runtime": c.get("Runtime"),
                "architectures": c.get("Architectures"), "package_type": c.get("PackageType"),
                "environment": {k: v for k, v in c.get("Environment", {}).get("Variables", {}).items()
                                if k.startswith("MODEL_")}}


@dataclass
class AwsContainerTarget:
    service_url: str
    name: str = "aws-container"
    kind: TargetKind = "container"
    source: Source = "measured-aws"
    host: str = ""
    port: int = 80
    path_prefix: str = ""
    tls: bool = False
    timeout_s: float = 60.0  # the ALB's default idle timeout

    @classmethod
    def from_stack(cls, stack_name: str, *, cloudformation: Any) -> AwsContainerTarget:
        outputs = stack_outputs(cloudformation, stack_name)
        if OUTPUT_SERVICE_URL not in outputs:
            raise ValueError(f"stack {stack_name} has no output {OUTPUT_SERVICE_URL}; "
                             "is it the twinserve service stack?")
        return cls(outputs[OUTPUT_SERVICE_URL])

    def start(self) -> None:
        self.host, self.port, self.path_prefix, self.tls = _endpoint(self.service_url)

    def stop(self) -> None:
        """Nothing to stop: the stack stays deployed."""

    def reports(self, wanted: set[str] | None = None) -> dict[str, Report]:
        return {}  # a container writes no REPORT lines

    def describe(self) -> dict[str, Any]:
        return {"target": self.name, "source": self.source, "service_url": self.service_url}
