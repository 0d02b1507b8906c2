"""The emulator's Invoke API against what AWS's answers: names, ARNs and qualifiers, payload checks,
complete LogType=Tail logs, and asynchronous invocations with Lambda's retry policy."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.emulator.test_emulator import FIXTURES
from twinserve.emulator.async_queue import AsyncPolicy
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.runner import EmulatorThread

ARN = "arn:aws:lambda:us-east-1:123456789012:function:predict"
FAST_RETRIES = AsyncPolicy(retry_delays_s=(0.2, 0.4), throttle_first_s=0.2, throttle_max_s=0.5, max_event_age_s=30)


@contextmanager
def emulator(handler: str, **settings: Any) -> Iterator[tuple[EmulatorThread, Any]]:
    policy = settings.pop("async_policy", FAST_RETRIES)
    config = FunctionConfig(package=FIXTURES, handler=f"handlers.{handler}", memory_mb=1024, **settings)
    with EmulatorThread(config, async_policy=policy) as emu:
        client = boto3.client("lambda", endpoint_url=emu.url, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}))
        yield emu, client


def async_counters(emu: EmulatorThread) -> dict[str, int]:
    data: dict[str, Any] = json.loads(urllib.request.urlopen(emu.url + "/_emulator/info", timeout=10).read())
    return dict(data["async"])


def wait_for(emu: EmulatorThread, done: Any, timeout_s: float = 20.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counters = async_counters(emu)
        if done(counters):
            return counters
        time.sleep(0.05)
    raise AssertionError(f"async counters never settled: {async_counters(emu)}")


def test_names_arns_and_qualifiers() -> None:
    with emulator("hello") as (_, client):
        for name, qualifier in (("predict", None), (ARN, None), ("123456789012:function:predict", None),
                                ("predict:live", None), (f"{ARN}:$LATEST", None), ("predict", "live"),
                                (ARN, "$LATEST")):
            kwargs = {"Qualifier": qualifier} if qualifier else {}
            assert client.invoke(FunctionName=name, Payload=b"{}", **kwargs)["StatusCode"] == 200, (name, qualifier)
        for name, qualifier in (("predict", "prod"), ("predict:7", None), ("other", None),
                                ("arn:aws:lambda:eu-west-1:123456789012:function:predict", None)):
            kwargs = {"Qualifier": qualifier} if qualifier else {}
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.invoke(FunctionName=name, Payload=b"{}", **kwargs)
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            client.invoke(FunctionName="predict:live", Qualifier="$LATEST", Payload=b"{}")


def test_bad_payloads_and_client_contexts_are_400() -> None:
    with emulator("echo") as (emu, client):
        with pytest.raises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName="predict", Payload=b"{not json")
        with pytest.raises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName="predict", Payload=b"{}", ClientContext="%%% not base64")
        with pytest.raises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName="predict", Payload=b"{}", ClientContext=base64.b64encode(b"[1").decode())
        assert emu.service.counters["requests"] == 0  # none of them reached the function


def test_log_tail_is_complete_in_100_of_100_calls() -> None:
    with emulator("chatty") as (_, client):
        complete = 0
        for _ in range(100):
            result = client.invoke(FunctionName="predict", Payload=b"{}", LogType="Tail")
            tail = base64.b64decode(result["LogResult"]).decode()
            request_id = result["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
            lines = tail.splitlines()
            expected = [f"line {i} of {request_id}" for i in range(5)] + [f"last line of {request_id}"]
            complete += all(line in lines for line in expected) and lines[-1].startswith("REPORT RequestId:")
        assert complete == 100


def test_async_throttle_is_retried_and_reported() -> None:
    with emulator("sleepy", concurrency=1) as (emu, client):
        busy = threading.Thread(target=client.invoke, kwargs={"FunctionName": "predict",
                                                               "Payload": json.dumps({"sleep_s": 1.0}).encode()})
        busy.start()
        time.sleep(0.3)  # the only environment is busy: the event is throttled, then retried
        accepted = client.invoke(FunctionName="predict", InvocationType="Event",
                                 Payload=json.dumps({"sleep_s": 0.01}).encode())
        assert accepted["StatusCode"] == 202
        busy.join()
        counters = wait_for(emu, lambda c: c.get("processed") == 1)
        assert counters["throttles"] >= 1 and counters["retried"] >= 1 and counters.get("dropped", 0) == 0


def test_async_function_errors_are_retried_twice_then_dropped() -> None:
    with emulator("fails") as (emu, client):
        assert client.invoke(FunctionName="predict", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
        counters = wait_for(emu, lambda c: c.get("dropped") == 1)
        assert (counters["function_errors"], counters["retried"], counters.get("processed", 0)) == (3, 2, 0)


def test_async_payload_limit_is_1_mb() -> None:
    with emulator("echo", timeout_s=10) as (_, client):
        payload = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
        with pytest.raises(client.exceptions.RequestTooLargeException):
            client.invoke(FunctionName="predict", InvocationType="Event", Payload=payload)
        assert client.invoke(FunctionName="predict", Payload=payload)["StatusCode"] == 200  # fine synchronously


def recorded(path: Any, timeout_s: float = 10.0) -> dict[str, int]:
    """What the function wrote down: it goes on after answering by hand, so wait for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().endswith("}"):
            data: dict[str, int] = json.loads(path.read_text())
            path.unlink()
            return data
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_runtime_api_status_codes_are_the_specifications(tmp_path: Any) -> None:
    record = tmp_path / "seen.json"
    with emulator("meddler", timeout_s=10) as (_, client):
        result = client.invoke(FunctionName="predict", Payload=json.dumps({"record": str(record)}).encode())
        assert json.loads(result["Payload"].read()) == {"answered": "by hand"}
        assert recorded(record) == {"init_error_after_init": 403, "other_request_id": 400, "first_response": 202,
                                    "second_response": 403}
        result = client.invoke(FunctionName="predict",
                               Payload=json.dumps({"record": str(record), "too_large": True}).encode())
        assert result.get("FunctionError") == "Unhandled"
        assert json.loads(result["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"
        assert recorded(record) == {"too_large": 413}
