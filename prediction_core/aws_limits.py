"""AWS's limits and quotas, read from dated data (data/aws-limits.json, with its sources).

One table for every part that enforces or reports a limit: the contract (request body), the
emulator (memory, timeout, INIT, payloads, integration timeouts), packaging (package sizes), the
CDK configuration and the report. This module is plain data: it imports no AWS library. The
records are NamedTuples rather than dataclasses because the Lambda doors import this at every cold
start, and building four dataclasses costs about 5 ms there (NamedTuples a tenth of that).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

LIMITS_PATH = Path(__file__).with_name("data") / "aws-limits.json"


class LambdaLimits(NamedTuple):
    memory_mb_min: int
    memory_mb_max: int
    memory_mb_per_vcpu: int
    timeout_s_min: int
    timeout_s_max: int
    init_phase_s: int
    sync_payload_bytes: int
    async_payload_bytes: int
    zip_direct_upload_bytes: int
    unzipped_package_bytes: int
    image_bytes: int
    account_concurrency: int
    scale_out_environments: int
    scale_out_period_s: int


class ApiGatewayLimits(NamedTuple):
    http_integration_timeout_s: int
    rest_integration_timeout_s: int
    payload_bytes: int


class AlbLimits(NamedTuple):
    lambda_payload_bytes: int
    idle_timeout_s: int


class AwsLimits(NamedTuple):
    as_of: str
    sources: dict[str, str]
    lambda_: LambdaLimits
    api_gateway: ApiGatewayLimits
    alb: AlbLimits


def load_limits(path: Path = LIMITS_PATH) -> AwsLimits:
    data = json.loads(path.read_text())
    return AwsLimits(as_of=data["as_of"], sources=dict(data["sources"]), lambda_=LambdaLimits(**data["lambda"]),
                     api_gateway=ApiGatewayLimits(**data["api_gateway"]), alb=AlbLimits(**data["alb"]))


LIMITS = load_limits()
LAMBDA = LIMITS.lambda_


class DoorLimit(NamedTuple):
    """The request (and response) size a Lambda function can receive behind one front door: the
    smaller of the front door's own limit and Lambda's, and who sets it."""

    bytes: int
    set_by: str


# One table per front door: API Gateway takes 10 MB but a synchronous Lambda invocation 6 MB; an ALB
# hands a Lambda target 1 MB; a function URL, Lambda's 6 MB; an asynchronous invocation, 1 MB.
DOOR_LIMITS: dict[str, DoorLimit] = {
    "http": DoorLimit(min(LIMITS.api_gateway.payload_bytes, LAMBDA.sync_payload_bytes), "Lambda (synchronous)"),
    "rest": DoorLimit(min(LIMITS.api_gateway.payload_bytes, LAMBDA.sync_payload_bytes), "Lambda (synchronous)"),
    "url": DoorLimit(LAMBDA.sync_payload_bytes, "Lambda (synchronous)"),
    "alb": DoorLimit(LIMITS.alb.lambda_payload_bytes, "ALB (Lambda targets)"),
    "event": DoorLimit(LAMBDA.async_payload_bytes, "Lambda (asynchronous)"),
}


def door_limit_text(front_door: str) -> str:
    limit = DOOR_LIMITS[front_door]
    return f"payload limit ({limit.bytes / 2**20:g} MB, {limit.set_by})"


def lambda_memory_problem(memory_mb: float) -> str | None:
    """Why Lambda would refuse this memory size, or None."""
    if not LAMBDA.memory_mb_min <= memory_mb <= LAMBDA.memory_mb_max:
        return f"Lambda takes {LAMBDA.memory_mb_min} to {LAMBDA.memory_mb_max} MB, got {memory_mb}"
    return None


def lambda_timeout_problem(timeout_s: float) -> str | None:
    """Why Lambda would refuse this function timeout, or None."""
    if not LAMBDA.timeout_s_min <= timeout_s <= LAMBDA.timeout_s_max:
        return f"Lambda takes {LAMBDA.timeout_s_min} to {LAMBDA.timeout_s_max} s, got {timeout_s}"
    return None
