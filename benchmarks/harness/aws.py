"""The deployed stacks as benchmark targets, through boto3.

Endpoints come from the CloudFormation outputs of the CDK stacks. The API invokes the function's
alias (output `AliasName`), which points at an immutable published version, so a cold start is
forced the way it happens on AWS: change $LATEST's configuration, wait until LastUpdateStatus is
Successful, publish a version, wait until it is Active, and move the alias to it. The next request
through the API reaches a version no environment has run yet. When the target stops, the alias goes
back to the version the stack deployed, $LATEST gets its configuration back, and the versions the
run published are deleted.

Init Duration (or SnapStart's Restore Duration), Duration, Billed Duration and Max Memory Used come
from the REPORT lines in CloudWatch Logs, read for each scenario's window and joined to client
latencies by request id (the native handler answers with the Lambda request id in x-request-id).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from benchmarks.harness.targets import Source, TargetKind
from benchmarks.reportlog import Report, parse_report
from prediction_core.aws_limits import LAMBDA

# Output keys of the CDK stacks (infra/): the contract between the deployment and the harness.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_FUNCTION_NAME = "FunctionName"
OUTPUT_ALIAS_NAME = "AliasName"
OUTPUT_LOG_GROUP = "LogGroupName"
OUTPUT_SERVICE_URL = "ServiceUrl"
OUTPUT_CLUSTER_NAME = "ClusterName"
OUTPUT_SERVICE_NAME = "ServiceName"
OUTPUT_TARGET_GROUP = "TargetGroupArn"
FUNCTION_OUTPUTS = (OUTPUT_API_URL, OUTPUT_FUNCTION_NAME, OUTPUT_ALIAS_NAME, OUTPUT_LOG_GROUP)
FORCE_COLD_VARIABLE = "TWINSERVE_FORCE_COLD"
REPORT_PATTERN = '"REPORT RequestId"'
# FilterLogEvents allows 5 requests per second per account and region: back off when throttled.
THROTTLE_CODES = {"ThrottlingException", "TooManyRequestsException", "Throttling"}
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
POLL_S = 2.0


class AwsSetupError(RuntimeError):
    """The AWS side is not what the harness needs (a stack, an output, a function state)."""


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _endpoint(url: str) -> tuple[str, int, str, bool]:
    parsed = urlparse(url)
    tls = parsed.scheme == "https"
    return parsed.hostname or "", parsed.port or (443 if tls else 80), parsed.path.rstrip("/"), tls


def deployed_example(base_url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """A valid request instance for the model the deployment serves, from its own GET /model (so a
    run never sends the local bundle's request to another model)."""
    from prediction_core.schema import InputSchema

    with urllib.request.urlopen(base_url.rstrip("/") + "/model", timeout=timeout_s) as response:
        body = json.loads(response.read())
    return InputSchema.from_dict(body["input_schema"], where=f"{base_url}/model").example_instance()


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


@dataclass
class AwsLambdaTarget:
    api_url: str
    function_name: str
    log_group: str
    lambda_client: Any
    logs_client: Any
    alias: str = "live"
    timeout_s: float = 29.0
    report_wait_s: float = 60.0
    name: str = "aws-lambda"
    kind: TargetKind = "lambda"
    source: Source = "measured-aws"
    host: str = ""
    port: int = 443
    path_prefix: str = ""
    tls: bool = True
    sleep: Callable[[float], None] = time.sleep  # injectable, so tests need not wait
    deployed_version: str | None = None  # what the alias pointed at when the run started
    published: list[str] = field(default_factory=list)  # versions this run published (deleted at stop)
    memory_mb: int = 0  # read at start
    _original_variables: dict[str, str] | None = None
    _original_memory_mb: int | None = None
    _reports: dict[str, Report] = field(default_factory=dict)

    @classmethod
    def from_stack(cls, stack_name: str, *, cloudformation: Any, lambda_client: Any,
                   logs_client: Any) -> AwsLambdaTarget:
        outputs = stack_outputs(cloudformation, stack_name)
        missing = [k for k in FUNCTION_OUTPUTS if k not in outputs]
        if missing:
            raise AwsSetupError(f"stack {stack_name} has no outputs {missing}; is it the twinserve function stack "
                                "(deployed from this version of infra/)?")
        return cls(outputs[OUTPUT_API_URL], outputs[OUTPUT_FUNCTION_NAME], outputs[OUTPUT_LOG_GROUP],
                   lambda_client, logs_client, alias=outputs[OUTPUT_ALIAS_NAME])

    def start(self) -> None:
        self.host, self.port, self.path_prefix, self.tls = _endpoint(self.api_url)
        self.deployed_version = self.lambda_client.get_alias(FunctionName=self.function_name,
                                                             Name=self.alias)["FunctionVersion"]
        config = self.lambda_client.get_function_configuration(FunctionName=self.function_name,
                                                               Qualifier=self.alias)
        self.timeout_s = float(config.get("Timeout", self.timeout_s))
        self.memory_mb = int(config.get("MemorySize", 0))

    def stop(self) -> None:
        """Put everything back as the stack deployed it; the stack itself stays deployed."""
        if not self.published:
            return
        if self.deployed_version is not None:
            self.lambda_client.update_alias(FunctionName=self.function_name, Name=self.alias,
                                            FunctionVersion=self.deployed_version)
        if self._original_variables is not None:
            restore: dict[str, Any] = {"Environment": {"Variables": self._original_variables}}
            if self._original_memory_mb is not None:
                restore["MemorySize"] = self._original_memory_mb
            self.lambda_client.update_function_configuration(FunctionName=self.function_name, **restore)
            self.wait_updated()
        for version in self.published:
            self.lambda_client.delete_function(FunctionName=self.function_name, Qualifier=version)
        self.published.clear()

    def force_cold(self) -> None:
        """A new version behind the alias: the next request through the API starts a new environment."""
        self._republish()

    def set_memory(self, memory_mb: int) -> dict[str, Any]:
        """Run at another memory size: set it on $LATEST, publish, move the alias (so it starts cold)."""
        self._republish(memory_mb=memory_mb)
        self.memory_mb = memory_mb
        return {"vcpus_on_aws": round(memory_mb / LAMBDA.memory_mb_per_vcpu, 2), "cpu_capped": False}

    def reset_memory(self) -> None:
        """Back to the memory size the stack deployed, on $LATEST and behind the alias."""
        if self._original_memory_mb is None:
            return
        self.lambda_client.update_function_configuration(FunctionName=self.function_name,
                                                         MemorySize=self._original_memory_mb)
        self.wait_updated()
        if self.deployed_version is not None:
            self.lambda_client.update_alias(FunctionName=self.function_name, Name=self.alias,
                                            FunctionVersion=self.deployed_version)
        self.memory_mb = self._original_memory_mb

    def _republish(self, *, memory_mb: int | None = None) -> None:
        config = self.lambda_client.get_function_configuration(FunctionName=self.function_name)
        variables = dict(config.get("Environment", {}).get("Variables", {}))
        if self._original_variables is None:
            self._original_variables = {k: v for k, v in variables.items() if k != FORCE_COLD_VARIABLE}
        if self._original_memory_mb is None:
            self._original_memory_mb = int(config.get("MemorySize", self.memory_mb))
        variables[FORCE_COLD_VARIABLE] = uuid.uuid4().hex
        changes: dict[str, Any] = {"Environment": {"Variables": variables}}
        if memory_mb is not None:
            changes["MemorySize"] = memory_mb
        self.lambda_client.update_function_configuration(FunctionName=self.function_name, **changes)
        self.wait_updated()
        version = str(self.lambda_client.publish_version(FunctionName=self.function_name)["Version"])
        self.published.append(version)
        self.wait_active(version)
        self.lambda_client.update_alias(FunctionName=self.function_name, Name=self.alias, FunctionVersion=version)

    def wait_updated(self, timeout_s: float = 120.0, poll_s: float = 1.0) -> None:
        """Until $LATEST's LastUpdateStatus is Successful: only then can a version be published from it."""
        self._wait(None, "LastUpdateStatus", "Successful", "LastUpdateStatusReason", timeout_s, poll_s)

    def wait_active(self, version: str, timeout_s: float = 300.0, poll_s: float = 1.0) -> None:
        """Until the published version's State is Active (SnapStart takes its snapshot before that)."""
        self._wait(version, "State", "Active", "StateReason", timeout_s, poll_s)

    def _wait(self, qualifier: str | None, key: str, wanted: str, reason_key: str, timeout_s: float,
              poll_s: float) -> None:
        kwargs: dict[str, Any] = {"FunctionName": self.function_name}
        if qualifier is not None:
            kwargs["Qualifier"] = qualifier
        deadline = time.monotonic() + timeout_s
        while True:
            config = self.lambda_client.get_function_configuration(**kwargs)
            status = config.get(key, wanted)
            if status == wanted:
                return
            if status == "Failed":
                raise AwsSetupError(f"{self.function_name}{':' + qualifier if qualifier else ''} {key} is Failed: "
                                    f"{config.get(reason_key)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.function_name} {key} still {status} after {timeout_s:.0f} s")
            self.sleep(poll_s)

    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]:
        """REPORT lines from CloudWatch Logs since `since_s` (epoch seconds; the scenario's first send
        less 5 s), waiting up to `report_wait_s` for the wanted request ids (they arrive late)."""
        start_ms = int(((since_s if since_s is not None else time.time() - 300)) * 1000)
        deadline = time.monotonic() + (self.report_wait_s if wanted else 0)
        while True:
            self._read_reports(start_ms)
            if not wanted or wanted <= set(self._reports) or time.monotonic() > deadline:
                return self._reports
            self.sleep(POLL_S)

    def _read_reports(self, start_ms: int) -> None:
        kwargs: dict[str, Any] = {"logGroupName": self.log_group, "startTime": start_ms,
                                  "filterPattern": REPORT_PATTERN}
        backoff = BACKOFF_FIRST_S
        while True:
            try:
                page = self.logs_client.filter_log_events(**kwargs)
            except Exception as exc:
                if _error_code(exc) not in THROTTLE_CODES:
                    raise
                self.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            for event in page.get("events", []):
                report = parse_report(event["message"])
                if report is not None:
                    self._reports[report.request_id] = report
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]

    def example_instance(self) -> dict[str, Any]:
        return deployed_example(self.api_url)

    def describe(self) -> dict[str, Any]:
        c = self.lambda_client.get_function_configuration(FunctionName=self.function_name, Qualifier=self.alias)
        return {"target": self.name, "source": self.source, "function": self.function_name, "alias": self.alias,
                "deployed_version": self.deployed_version,
                "memory_mb": c.get("MemorySize"), "timeout_s": c.get("Timeout"), "runtime": c.get("Runtime"),
                "architectures": c.get("Architectures"), "package_type": c.get("PackageType"),
                "snap_start": c.get("SnapStart", {}).get("ApplyOn"),
                "environment": {k: v for k, v in c.get("Environment", {}).get("Variables", {}).items()
                                if k.startswith("MODEL_")}}
