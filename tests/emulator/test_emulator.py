"""The local Lambda emulator, with real awslambdaric processes on loopback."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from benchmarks.reportlog import Report, format_report, parse_report
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.runner import EmulatorThread

FIXTURES = Path(__file__).resolve().parents[1] / "lambda_fixtures"


@contextmanager
def emulator(handler: str, **settings: Any) -> Iterator[EmulatorThread]:
    settings.setdefault("memory_mb", 1024)
    event_format = settings.pop("event_format", "http")
    config = FunctionConfig(package=FIXTURES, handler=f"handlers.{handler}", **settings)
    with EmulatorThread(config, event_format=event_format) as emu:
        yield emu


def post(emu: EmulatorThread, body: dict[str, Any] | bytes | None = None, path: str = "/run",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.emulator.port, timeout=60)
    data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    conn.request("POST", path, body=data, headers={"content-type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(raw) if raw else None


def test_first_request_is_cold_and_the_second_warm() -> None:
    with emulator("hello") as emu:
        s1, h1, b1 = post(emu)
        s2, h2, b2 = post(emu)
        assert (s1, s2) == (200, 200)
        assert h1["x-emulator-cold"] == "true" and float(h1["x-emulator-init-ms"]) > 0
        assert h2["x-emulator-cold"] == "false" and "x-emulator-init-ms" not in h2
        assert b1["pid"] == b2["pid"]  # the same environment served both
        assert b1["memory"] == "1024" and 0 < b1["remaining_ms"] <= 3000
        first, second = (emu.service.reports[h["x-emulator-request-id"]] for h in (h1, h2))
        assert first.init_duration_ms is not None and second.init_duration_ms is None
        assert first.billed_duration_ms >= first.init_duration_ms  # INIT is billed since 2025-08


def test_parallel_requests_start_one_environment_each_and_the_next_is_throttled() -> None:
    with emulator("sleepy", concurrency=3) as emu, ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: post(emu, {"sleep_s": 0.8}), range(4)))
        statuses = sorted(r[0] for r in replies)
        assert statuses == [200, 200, 200, 500]  # behind an HTTP API a Lambda throttle is a 500 to the client
        pids = {r[2]["pid"] for r in replies if r[0] == 200}
        assert len(pids) == 3
        assert emu.service.counters["cold_starts"] == 3 and emu.service.counters["throttled"] == 1
        throttled = next(r for r in replies if r[0] == 500)
        assert throttled[2] == {"message": "Internal Server Error"} and throttled[1]["x-emulator-throttled"] == "true"


@pytest.mark.parametrize(("front_door", "status"), [("http", 500), ("rest", 502), ("url", 429), ("alb", 503)])
def test_each_front_door_answers_a_throttle_its_own_way(front_door: str, status: int) -> None:
    with emulator("sleepy", concurrency=1, event_format=front_door) as emu, ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: post(emu, {"sleep_s": 0.8})[0], range(2)))
        assert statuses == sorted([200, status])


def test_keep_alive_zero_makes_every_request_cold() -> None:
    with emulator("hello", keep_alive_s=0) as emu:
        replies = [post(emu) for _ in range(3)]
        assert [r[1]["x-emulator-cold"] for r in replies] == ["true"] * 3
        assert len({r[2]["pid"] for r in replies}) == 3


def test_idle_environments_are_frozen_and_reaped_after_keep_alive() -> None:
    with emulator("hello", keep_alive_s=0.5) as emu:
        _, headers, body = post(emu)
        env = emu.service.pool.envs[headers["x-emulator-env"]]
        deadline = time.monotonic() + 2
        while env.state != "idle" and time.monotonic() < deadline:  # parked in the background after answering
            time.sleep(0.005)
        state = Path(f"/proc/{body['pid']}/stat").read_text().split()[2]
        assert state == "T"  # stopped (SIGSTOP) between invocations
        assert env.state == "idle"
        time.sleep(1.6)
        assert emu.service.pool.envs == {} and emu.service.counters["reaped"] == 1
        assert post(emu)[1]["x-emulator-cold"] == "true"


def test_function_timeout_ends_the_invocation_and_the_next_request_is_cold() -> None:
    with emulator("sleepy", timeout_s=1) as emu:
        started = time.perf_counter()
        status, headers, body = post(emu, {"sleep_s": 5})
        elapsed = time.perf_counter() - started
        assert status == 500 and body == {"message": "Internal Server Error"}
        assert headers["x-emulator-function-error"] == "Sandbox.Timedout"
        report = emu.service.reports[headers["x-emulator-request-id"]]
        assert abs(report.duration_ms - 1000) <= 100
        assert elapsed < 2.5
        assert any("Task timed out after 1.00 seconds" in line for line in emu.service.logs.lines)
        assert post(emu, {"sleep_s": 0})[1]["x-emulator-cold"] == "true"


def test_a_7_mb_request_is_refused_with_413() -> None:
    with emulator("hello") as emu:
        status, headers, body = post(emu, b'{"pad": "' + b"x" * (7 * 1024 * 1024) + b'"}')
        assert status == 413 and body == {"message": "Request Entity Too Large"}
        assert headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
        assert emu.service.counters["cold_starts"] == 0  # refused before any environment was touched


def test_a_response_over_6_mb_is_a_function_error() -> None:
    with emulator("big_response") as emu:
        status, headers, _ = post(emu, {"bytes": 7 * 1024 * 1024})
        assert status == 500 and headers["x-emulator-function-error"] == "Function.ResponseSizeTooLarge"


def test_crashing_runtime_gives_exit_error_and_the_service_keeps_answering() -> None:
    with emulator("crash") as emu:
        ok = post(emu)
        crashed = post(emu, {"crash": True})
        after = post(emu)
        assert ok[0] == 200 and crashed[0] == 500 and after[0] == 200
        assert crashed[1]["x-emulator-function-error"] == "Runtime.ExitError"
        assert after[1]["x-emulator-cold"] == "true" and after[2]["pid"] != ok[2]["pid"]


def test_memory_limit_gives_out_of_memory() -> None:
    # 128 MB also means 0.07 vCPU, as on Lambda: give the hog time to reach the limit.
    with emulator("hog", memory_mb=128, timeout_s=20) as emu:
        small = post(emu, {"mb": 5})
        big = post(emu, {"mb": 400})
        assert small[0] == 200
        assert big[0] == 500 and big[1]["x-emulator-function-error"] == "Runtime.OutOfMemory"
        report = emu.service.reports[small[1]["x-emulator-request-id"]]
        assert 5 < report.max_memory_used_mb <= 128


def test_init_over_the_limit_is_retried_within_the_first_invocation(tmp_path: Path) -> None:
    marker = tmp_path / "init-marker"
    with emulator("hello", init_timeout_s=0.5, environment={"SLEEP_AT_INIT_S": "2",
                                                             "INIT_DONE_MARKER": str(marker)}) as emu:
        status, headers, _ = post(emu)
        assert status == 200 and marker.exists()
        assert emu.service.counters["init_retries"] == 1
        lines = list(emu.service.logs.lines)
        assert any(line.startswith("INIT_REPORT") and "Phase: init\tStatus: timeout" in line for line in lines)
        assert any(line.startswith("INIT_REPORT") and "Phase: invoke\tStatus: success" in line for line in lines)
        report = emu.service.reports[headers["x-emulator-request-id"]]
        assert report.init_duration_ms is None  # the retried INIT is part of the invoke duration


def test_init_error_is_reported_and_the_next_request_tries_again() -> None:
    with emulator("hello", environment={"FAIL_AT_INIT": "1"}) as emu:
        status, headers, _ = post(emu)
        assert status == 500
        assert headers["x-emulator-function-error"] == "RuntimeError"  # the type awslambdaric reported
        assert any("INIT_REPORT" in line and "Status: error" in line for line in emu.service.logs.lines)
        assert emu.service.pool.envs == {}


def test_boto3_invoke_through_the_invoke_api() -> None:
    with emulator("echo", function_name="twin") as emu:
        client = boto3.client("lambda", endpoint_url=emu.url, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"max_attempts": 0}))
        import base64

        context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
        result = client.invoke(FunctionName="twin", Payload=json.dumps({"a": 1}).encode(), LogType="Tail",
                               ClientContext=context)
        assert result["StatusCode"] == 200 and "FunctionError" not in result
        assert json.loads(result["Payload"].read()) == {"event": {"a": 1}, "client_context": {"tenant": "t1"}}
        tail = base64.b64decode(result["LogResult"]).decode()
        assert tail.startswith("START RequestId:") and "REPORT RequestId:" in tail
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="other", Payload=b"{}")
        with pytest.raises(client.exceptions.RequestTooLargeException):
            client.invoke(FunctionName="twin", Payload=b"x" * (7 * 1024 * 1024))


def test_boto3_sees_throttling_as_too_many_requests() -> None:
    with emulator("sleepy", concurrency=1) as emu, ThreadPoolExecutor(2) as pool:
        client = boto3.client("lambda", endpoint_url=emu.url, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"max_attempts": 0}))

        def call(_: int) -> str:
            try:
                client.invoke(FunctionName="predict", Payload=json.dumps({"sleep_s": 0.8}).encode())
                return "ok"
            except client.exceptions.TooManyRequestsException:
                return "throttled"

        assert sorted(pool.map(call, range(2))) == ["ok", "throttled"]


def test_rest_event_format() -> None:
    with emulator("echo", event_format="rest") as emu:
        status, _, _ = post(emu, {"x": 1}, path="/a/b?q=1")
        assert status == 502  # a REST API needs a proxy response; echo returns a bare object
    with emulator("hello", event_format="rest") as emu:
        assert post(emu)[0] == 200


def test_report_lines_round_trip_through_the_parser() -> None:
    cold = Report("8f507cfc-xmpl-4697-b07a-ac58fc914c95", 15.74, 147, 128, 56, 130.49)
    warm = Report("1f507cfc-xmpl-4697-b07a-ac58fc914c95", 2.1, 3, 1024, 80)
    for report in (cold, warm):
        assert parse_report(format_report(report)) == report
    aws_line = ("REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95  Duration: 15.74 ms  Billed Duration: 16 ms "
                "Memory Size: 128 MB Max Memory Used: 56 MB  Init Duration: 130.49 ms")
    parsed = parse_report(aws_line)
    assert parsed == Report("8f507cfc-xmpl-4697-b07a-ac58fc914c95", 15.74, 16, 128, 56, 130.49)
    assert parse_report("START RequestId: abc Version: $LATEST") is None
    with emulator("hello") as emu:
        post(emu)
        lines = [line for line in emu.service.logs.lines if line.startswith("REPORT")]
        assert [parse_report(line) for line in lines] == list(emu.service.reports.values())


def test_settings_outside_lambdas_ranges_are_refused() -> None:
    from twinserve.emulator.exceptions import ConfigError

    for bad, message in [({"memory_mb": 64}, "128 to 10240"), ({"timeout_s": 901}, "1 to 900"),
                         ({"concurrency": 0}, "at least 1")]:
        with pytest.raises(ConfigError, match=message):
            FunctionConfig(package=FIXTURES, handler="handlers.hello", **bad).validate()
    with pytest.raises(ConfigError, match="not found in package"):
        FunctionConfig(package=FIXTURES, handler="nowhere.handler").validate()


def test_freezing_an_environment_does_not_signal_the_emulator_but_its_exit_still_does() -> None:
    import os
    import signal
    import subprocess
    import sys

    from twinserve.emulator.sandbox import quiet_child_stops

    received: list[int] = []
    previous = signal.signal(signal.SIGCHLD, lambda signum, frame: received.append(signum))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert quiet_child_stops()
        for sig in (signal.SIGSTOP, signal.SIGCONT, signal.SIGSTOP, signal.SIGCONT):
            os.kill(child.pid, sig)
            time.sleep(0.05)
        assert received == []
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert received == [signal.SIGCHLD]
    finally:
        child.kill()
        child.wait(10)
        signal.signal(signal.SIGCHLD, previous)


def test_a_log_line_over_64_kib_keeps_the_environments_logs_flowing() -> None:
    with emulator("long_line") as emu:
        first = post(emu)
        second = post(emu)
        assert (first[0], second[0]) == (200, 200)
        assert second[1]["x-emulator-cold"] == "false"  # the same environment served both
        lines = list(emu.service.logs.lines)
        assert sum(1 for line in lines if line == "L" * 100 * 1024) == 2
        for headers in (first[1], second[1]):
            rid = headers["x-emulator-request-id"]
            assert f"after the long line {rid}" in lines  # the ordinary line after it was not lost
            assert any(line.startswith(f"REPORT RequestId: {rid}") for line in lines)


def test_the_log_cursor_must_be_a_number() -> None:
    with emulator("hello") as emu:
        conn = http.client.HTTPConnection("127.0.0.1", emu.emulator.port, timeout=10)
        conn.request("GET", "/_emulator/logs?after=abc")
        response = conn.getresponse()
        assert response.status == 400
        assert json.loads(response.read()) == {"message": "after must be a line number (0 or more), got 'abc'"}
        conn.close()


def test_function_url_event_format() -> None:
    # echo returns a bare object: payload v2 (function URLs too) infers a 200 JSON response
    with emulator("echo", event_format="url") as emu:
        status, _, body = post(emu, {"x": 1}, path="/predict?q=1")
        event = body["event"]
        assert status == 200 and event["version"] == "2.0" and event["rawPath"] == "/predict"
        assert "stage" not in event["requestContext"]
        assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")


def test_alb_event_format_limits_and_errors() -> None:
    with emulator("echo", event_format="alb") as emu:
        status, _, _ = post(emu, {"x": 1}, path="/predict?q=1")
        assert status == 502  # an ALB needs a statusCode in the response, as a REST API does
    with emulator("big_response", event_format="alb", timeout_s=10) as emu:
        assert post(emu, {"bytes": 200_000})[0] == 200
        status, headers, _ = post(emu, {"bytes": 1_100_000})  # fine behind API Gateway (6 MB), not an ALB (1 MB)
        assert status == 502 and headers["x-emulator-limit"] == "alb-response-1mb"
        assert post(emu, b"x" * (1024 * 1024 + 1))[0] == 413
    with emulator("sleepy", event_format="alb", concurrency=1) as emu, ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: post(emu, {"sleep_s": 1.0})[0], range(2)))
        assert statuses == [200, 503]  # a throttle behind an ALB


def test_init_error_is_retried_in_the_invoke_phase_and_billed() -> None:
    with emulator("hello", environment={"FAIL_AT_INIT": "1"}) as emu:
        status, headers, _ = post(emu)
        assert status == 500
        lines = list(emu.service.logs.lines)
        assert any("INIT_REPORT" in line and "Phase: init\tStatus: error" in line for line in lines)
        assert any("INIT_REPORT" in line and "Phase: invoke\tStatus: error" in line for line in lines)
        report = emu.service.reports[headers["x-emulator-request-id"]]
        assert (report.status, report.error_type) == ("error", "RuntimeError")
        assert report.duration_ms > 0 and report.billed_duration_ms >= report.duration_ms  # the retry is billed
        assert emu.service.counters["init_retries"] == 1


def test_report_status_and_init_start_lines() -> None:
    with emulator("sleepy", timeout_s=1) as emu:
        _, ok_headers, _ = post(emu, {"sleep_s": 0.01})
        _, timeout_headers, _ = post(emu, {"sleep_s": 3})
        lines = list(emu.service.logs.lines)
        assert lines[0].startswith("INIT_START Runtime Version: python:") and lines[1].startswith("START RequestId:")
        ok, timed_out = (emu.service.reports[h["x-emulator-request-id"]] for h in (ok_headers, timeout_headers))
        assert ok.status is None and timed_out.status == "timeout"
        timeout_line = next(line for line in lines if line.startswith(f"REPORT RequestId: {timed_out.request_id}"))
        assert "\tStatus: timeout" in timeout_line
    with emulator("crash") as emu:
        post(emu, {"crash": True})
        crash_line = next(line for line in emu.service.logs.lines if line.startswith("REPORT"))
        assert "\tStatus: error\tError Type: Runtime.ExitError" in crash_line


def raw_request(emu: EmulatorThread, request: bytes) -> tuple[int, dict[str, str], bytes]:
    import socket

    with socket.create_connection(("127.0.0.1", emu.emulator.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            rest += sock.recv(65536)
        return int(lines[0].split()[1]), headers, rest


def test_front_door_headers_queries_cookies_as_api_gateway_builds_them() -> None:
    request = (b"POST /run?a=1&a=2&q=hello%20world HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               b"X-Request-Id: first\r\nX-Request-Id: second\r\nCookie: a=1\r\nCookie: b=2\r\n"
               b"Connection: close\r\n\r\n{}")
    with emulator("echo", event_format="http") as emu:
        event = json.loads(raw_request(emu, request)[2])["event"]
        assert event["headers"]["x-request-id"] == "first,second" and "cookie" not in event["headers"]
        assert event["cookies"] == ["a=1", "b=2"]
        assert event["queryStringParameters"] == {"a": "1,2", "q": "hello world"}
    from twinserve.emulator.frontdoor import api_gateway_event
    from twinserve.emulator.httpserver import Request

    req = Request("POST", "/run", "a=1&a=2&q=hello%20world", {"x-request-id": "first,second"}, b"{}",
                  header_pairs=[("x-request-id", "first"), ("x-request-id", "second")])
    rest = api_gateway_event(req, "rest")
    assert rest["multiValueHeaders"]["x-request-id"] == ["first", "second"]
    assert rest["headers"]["x-request-id"] == "second"  # a REST API keeps the last in `headers`
    assert rest["multiValueQueryStringParameters"] == {"a": ["1", "2"], "q": ["hello world"]}
    assert api_gateway_event(req, "alb")["queryStringParameters"] == {"a": "2", "q": "hello%20world"}  # undecoded


def test_head_responses_carry_no_body() -> None:
    with emulator("hello") as emu:
        status, headers, body = raw_request(emu, b"HEAD /run HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 200 and body == b"" and headers.get("content-length", "0") == "0"


def test_a_runtime_that_exits_after_answering_frees_its_slot_at_once() -> None:
    with emulator("exits_after_answering", concurrency=1) as emu:
        first = post(emu)
        started = time.monotonic()
        second = post(emu)  # a new environment at once: before, the dead one's slot was held for 5 s
        assert (first[0], second[0]) == (200, 200) and first[2]["pid"] != second[2]["pid"]
        assert time.monotonic() - started < 3.0  # far from the 5 s parking timeout (a behaviour, not a speed)
