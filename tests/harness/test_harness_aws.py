"""AWS mode: stack outputs, forced cold starts, REPORT lines from CloudWatch Logs, join by request id.
moto stands in for AWS; botocore's Stubber where moto falls short."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from benchmarks.harness.aws import (
    FORCE_COLD_VARIABLE,
    AwsContainerTarget,
    AwsLambdaTarget,
    stack_outputs,
)
from benchmarks.harness.loadgen import Reply
from benchmarks.harness.records import Record
from benchmarks.harness.scenarios import applicable
from benchmarks.reportlog import Report, format_report

REGION = "us-east-1"
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "ApiUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/"},
        "FunctionName": {"Value": "twinserve-predict"},
        "LogGroupName": {"Value": "/aws/lambda/twinserve-predict"},
        "ServiceUrl": {"Value": "http://twinserve-alb-123.us-east-1.elb.amazonaws.com"},
    },
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="TwinserveFunction", TemplateBody=json.dumps(TEMPLATE))
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("handler.py", "def handler(e, c):\n    return {}\n")
        lam.create_function(FunctionName="twinserve-predict", Runtime="python3.12", Role=role,
                            Handler="handler.handler", Code={"ZipFile": code.getvalue()}, MemorySize=1024,
                            Timeout=10, Environment={"Variables": {"MODEL_RUNTIME": "onnx"}})
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName="/aws/lambda/twinserve-predict")
        logs.create_log_stream(logGroupName="/aws/lambda/twinserve-predict", logStreamName="s1")
        yield {"cfn": cfn, "lambda": lam, "logs": logs}


def test_endpoints_come_from_stack_outputs(aws: dict[str, Any]) -> None:
    outputs = stack_outputs(aws["cfn"], "TwinserveFunction")
    assert outputs["FunctionName"] == "twinserve-predict"
    target = AwsLambdaTarget.from_stack("TwinserveFunction", cloudformation=aws["cfn"],
                                        lambda_client=aws["lambda"], logs_client=aws["logs"])
    target.start()
    assert (target.host, target.port, target.tls, target.path_prefix) == \
        ("abc123.execute-api.us-east-1.amazonaws.com", 443, True, "")
    assert target.timeout_s == 10.0
    container = AwsContainerTarget.from_stack("TwinserveFunction", cloudformation=aws["cfn"])
    container.start()
    assert (container.host, container.port, container.tls) == ("twinserve-alb-123.us-east-1.elb.amazonaws.com", 80,
                                                               False)
    assert not applicable("cold-start", container) and applicable("warm", container)
    assert applicable("cold-start", target) and not applicable("model-size", target)


def test_forced_cold_start_changes_the_configuration_and_keeps_the_rest(aws: dict[str, Any]) -> None:
    target = AwsLambdaTarget("https://x/", "twinserve-predict", "/aws/lambda/twinserve-predict", aws["lambda"],
                             aws["logs"])
    target.force_cold()
    first = aws["lambda"].get_function_configuration(FunctionName="twinserve-predict")["Environment"]["Variables"]
    target.force_cold()
    second = aws["lambda"].get_function_configuration(FunctionName="twinserve-predict")["Environment"]["Variables"]
    assert first["MODEL_RUNTIME"] == second["MODEL_RUNTIME"] == "onnx"
    assert first[FORCE_COLD_VARIABLE] != second[FORCE_COLD_VARIABLE]


def test_forced_cold_start_waits_for_last_update_status() -> None:
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    base = {"FunctionName": "fn", "Environment": {"Variables": {"A": "1"}}}
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", base, {"FunctionName": "fn"})
        stub.add_response("update_function_configuration", {"FunctionName": "fn", "LastUpdateStatus": "InProgress"})
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "InProgress"},
                          {"FunctionName": "fn"})
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "InProgress"},
                          {"FunctionName": "fn"})
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "Successful"},
                          {"FunctionName": "fn"})
        target = AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", client, None, sleep=lambda s: None)
        target.force_cold()
        stub.assert_no_pending_responses()
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "Failed",
                                                         "LastUpdateStatusReason": "bad zip"}, {"FunctionName": "fn"})
        with pytest.raises(RuntimeError, match="bad zip"):
            AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", client, None).wait_updated(poll_s=0.0)


def test_report_lines_from_cloudwatch_are_joined_by_request_id(aws: dict[str, Any]) -> None:
    now = int(time.time() * 1000)
    reports = [Report("11111111-aaaa-4000-8000-000000000001", 12.5, 180, 1024, 90, 166.4),
               Report("11111111-aaaa-4000-8000-000000000002", 2.25, 3, 1024, 91)]
    aws["logs"].put_log_events(logGroupName="/aws/lambda/twinserve-predict", logStreamName="s1", logEvents=[
        {"timestamp": now, "message": "START RequestId: 11111111-aaaa-4000-8000-000000000001 Version: $LATEST"},
        {"timestamp": now + 1, "message": format_report(reports[0])},
        {"timestamp": now + 2, "message": format_report(reports[1])},
    ])
    target = AwsLambdaTarget("https://x/", "twinserve-predict", "/aws/lambda/twinserve-predict", aws["lambda"],
                             aws["logs"], report_wait_s=0)
    target.started_ms = now - 1000
    found = target.reports()
    assert found == {r.request_id: r for r in reports}
    record = Record.from_reply(Reply(200, {"x-request-id": reports[0].request_id}, b"{}", 0.0, 0.0, 0.05),
                               target="aws-lambda", scenario="cold-start", source="measured-aws")
    record.join_report(found[record.request_id])
    assert record.cold is True
    assert record.server == {"report_duration_ms": 12.5, "billed_duration_ms": 180, "max_memory_used_mb": 90,
                             "memory_size_mb": 1024, "report_init_ms": 166.4}


def test_late_report_lines_are_waited_for_across_pages() -> None:
    client = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    late = Report("22222222-aaaa-4000-8000-000000000009", 5.0, 5, 512, 60)
    with Stubber(client) as stub:
        stub.add_response("filter_log_events", {"events": [], "nextToken": "t1"})
        stub.add_response("filter_log_events", {"events": []})
        stub.add_response("filter_log_events", {"events": [{"message": format_report(late), "timestamp": 1}]})
        target = AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", None, client, report_wait_s=30,
                                 sleep=lambda s: None)
        found = target.reports(wanted={late.request_id})
        assert found == {late.request_id: late}
        stub.assert_no_pending_responses()
