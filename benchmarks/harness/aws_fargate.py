"""The deployed Fargate service as a benchmark target. A cold start on Fargate is a scale-out: one
more task is asked for, and its way to serving is timed from ECS's own task timestamps and the
target group's health: asked → task created → image pull started → image pulled → running →
healthy in the target group. The desired count goes back to what it was when the target stops."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from benchmarks.harness.aws import (
    OUTPUT_CLUSTER_NAME,
    OUTPUT_SERVICE_NAME,
    OUTPUT_SERVICE_URL,
    OUTPUT_TARGET_GROUP,
    AwsSetupError,
    _endpoint,
    deployed_example,
    stack_outputs,
)
from benchmarks.harness.targets import Source, TargetKind
from benchmarks.reportlog import Report


@dataclass
class AwsContainerTarget:
    """The service behind its load balancer: requests only (no cold start without ECS access)."""

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
    def from_stack(cls, stack_name: str, *, cloudformation: Any, ecs_client: Any = None,
                   elbv2_client: Any = None) -> AwsContainerTarget:
        outputs = stack_outputs(cloudformation, stack_name)
        if OUTPUT_SERVICE_URL not in outputs:
            raise AwsSetupError(f"stack {stack_name} has no output {OUTPUT_SERVICE_URL}; "
                                "is it the twinserve service stack?")
        names = (OUTPUT_CLUSTER_NAME, OUTPUT_SERVICE_NAME, OUTPUT_TARGET_GROUP)
        if ecs_client is not None and elbv2_client is not None and all(k in outputs for k in names):
            return FargateTarget(outputs[OUTPUT_SERVICE_URL], ecs=ecs_client, elbv2=elbv2_client,
                                 cluster=outputs[OUTPUT_CLUSTER_NAME], service=outputs[OUTPUT_SERVICE_NAME],
                                 target_group_arn=outputs[OUTPUT_TARGET_GROUP])
        return cls(outputs[OUTPUT_SERVICE_URL])

    def start(self) -> None:
        self.host, self.port, self.path_prefix, self.tls = _endpoint(self.service_url)

    def stop(self) -> None:
        """Nothing to stop: the stack stays deployed."""

    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]:
        return {}  # a container writes no REPORT lines

    def example_instance(self) -> dict[str, Any]:
        return deployed_example(self.service_url)

    def describe(self) -> dict[str, Any]:
        return {"target": self.name, "source": self.source, "service_url": self.service_url}


@dataclass(kw_only=True)
class FargateTarget(AwsContainerTarget):
    """…and, with ECS and ELB access, cold starts by scale-out (ColdStartable, ColdPathTimed)."""

    ecs: Any
    elbv2: Any
    cluster: str
    service: str
    target_group_arn: str
    start_timeout_s: float = 600.0
    poll_s: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    cold_path_s: list[dict[str, float]] = field(default_factory=list)
    original_desired: int | None = None

    def stop(self) -> None:
        if self.original_desired is not None:
            self.ecs.update_service(cluster=self.cluster, service=self.service, desiredCount=self.original_desired)
            self.original_desired = None

    def force_cold(self) -> None:
        """One more task, timed until it is healthy in the target group."""
        desired = int(self._service()["desiredCount"])
        if self.original_desired is None:
            self.original_desired = desired
        before = set(self._task_arns())
        asked = self.clock()
        self.ecs.update_service(cluster=self.cluster, service=self.service, desiredCount=desired + 1)
        deadline = time.monotonic() + self.start_timeout_s
        task = self._wait(lambda: self._new_running_task(before), "a new task RUNNING", deadline)
        ip = _task_ip(task)
        self._wait(lambda: self._healthy(ip), f"task {ip} healthy in the target group", deadline)
        healthy = self.clock()
        stamps = {k: _epoch(task.get(k)) for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt")}
        path = {"asked_to_created_ms": _ms(asked, stamps["createdAt"]),
                "created_to_pull_ms": _ms(stamps["createdAt"], stamps["pullStartedAt"]),
                "image_pull_ms": _ms(stamps["pullStartedAt"], stamps["pullStoppedAt"]),
                "pulled_to_running_ms": _ms(stamps["pullStoppedAt"], stamps["startedAt"]),
                "running_to_healthy_ms": _ms(stamps["startedAt"], healthy),
                # the name the local container target gives the same span (scenarios read it)
                "process_to_healthy_ms": _ms(stamps["startedAt"], healthy),
                "asked_to_healthy_ms": _ms(asked, healthy)}
        self.cold_path_s.append({k: v for k, v in path.items() if v is not None})

    def _service(self) -> dict[str, Any]:
        services = self.ecs.describe_services(cluster=self.cluster, services=[self.service])["services"]
        if not services:
            raise AwsSetupError(f"no ECS service {self.service} in cluster {self.cluster}")
        return dict(services[0])

    def _task_arns(self) -> list[str]:
        return list(self.ecs.list_tasks(cluster=self.cluster, serviceName=self.service)["taskArns"])

    def _new_running_task(self, before: set[str]) -> dict[str, Any] | None:
        new = [arn for arn in self._task_arns() if arn not in before]
        if not new:
            return None
        tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=new)["tasks"]
        running = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
        return dict(running[0]) if running else None

    def _healthy(self, ip: str) -> bool | None:
        health = self.elbv2.describe_target_health(TargetGroupArn=self.target_group_arn)["TargetHealthDescriptions"]
        return any(d["Target"]["Id"] == ip and d["TargetHealth"]["State"] == "healthy" for d in health) or None

    def _wait(self, probe: Callable[[], Any], what: str, deadline: float) -> Any:
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.service}: no {what} within {self.start_timeout_s:.0f} s")
            self.sleep(self.poll_s)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "cluster": self.cluster, "service": self.service,
                "cold_start": "scale-out by one task, timed from ECS task timestamps and target health"}


def _task_ip(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address":
                return str(detail["value"])
    raise AwsSetupError(f"task {task.get('taskArn')} has no private IPv4 address (awsvpc networking expected)")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000.0, 1)
