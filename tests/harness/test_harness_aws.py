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

from benchmarks.harness.aws import FORCE_COLD_VARIABLE, AwsLambdaTarget, AwsSetupError, stack_outputs
from benchmarks.harness.aws_fargate import AwsContainerTarget, FargateTarget
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
        "AliasName": {"Value": "live"},
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
        deployed = lam.publish_version(FunctionName="twinserve-predict")["Version"]
        lam.create_alias(FunctionName="twinserve-predict", Name="live", FunctionVersion=deployed)
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


def test_forced_cold_start_moves_the_alias_to_a_new_version_and_stop_restores_it(aws: dict[str, Any]) -> None:
    lam = aws["lambda"]
    target = AwsLambdaTarget.from_stack("TwinserveFunction", cloudformation=aws["cfn"], lambda_client=lam,
                                        logs_client=aws["logs"])
    target.start()
    deployed = target.deployed_version
    target.force_cold()
    first = lam.get_alias(FunctionName="twinserve-predict", Name="live")["FunctionVersion"]
    target.force_cold()
    second = lam.get_alias(FunctionName="twinserve-predict", Name="live")["FunctionVersion"]
    assert len({deployed, first, second}) == 3  # each forced cold start: a version no environment has run
    variables = lam.get_function_configuration(FunctionName="twinserve-predict",
                                               Qualifier=second)["Environment"]["Variables"]
    assert variables["MODEL_RUNTIME"] == "onnx" and FORCE_COLD_VARIABLE in variables
    target.stop()
    assert lam.get_alias(FunctionName="twinserve-predict", Name="live")["FunctionVersion"] == deployed
    latest = lam.get_function_configuration(FunctionName="twinserve-predict")["Environment"]["Variables"]
    assert latest == {"MODEL_RUNTIME": "onnx"}
    versions = {v["Version"] for v in lam.list_versions_by_function(FunctionName="twinserve-predict")["Versions"]}
    assert versions == {"$LATEST", deployed}  # what the run published is gone


def test_a_stack_without_the_alias_output_is_refused(aws: dict[str, Any]) -> None:
    template = {**TEMPLATE, "Outputs": {k: v for k, v in TEMPLATE["Outputs"].items() if k != "AliasName"}}
    aws["cfn"].create_stack(StackName="Old", TemplateBody=json.dumps(template))
    with pytest.raises(AwsSetupError, match="AliasName"):
        AwsLambdaTarget.from_stack("Old", cloudformation=aws["cfn"], lambda_client=aws["lambda"],
                                   logs_client=aws["logs"])


def test_forced_cold_start_waits_for_the_update_and_the_new_version() -> None:
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    base = {"FunctionName": "fn", "Environment": {"Variables": {"A": "1"}}}
    latest = {"FunctionName": "fn"}
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", base, latest)
        stub.add_response("update_function_configuration", {"FunctionName": "fn", "LastUpdateStatus": "InProgress"})
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "InProgress"}, latest)
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "Successful"}, latest)
        stub.add_response("publish_version", {"Version": "7"}, {"FunctionName": "fn"})
        version7 = {"FunctionName": "fn", "Qualifier": "7"}
        stub.add_response("get_function_configuration", {**base, "State": "Pending"}, version7)
        stub.add_response("get_function_configuration", {**base, "State": "Active"}, version7)
        stub.add_response("update_alias", {"FunctionVersion": "7"},
                          {"FunctionName": "fn", "Name": "live", "FunctionVersion": "7"})
        target = AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", client, None, sleep=lambda s: None)
        target.force_cold()
        stub.assert_no_pending_responses()
    assert target.published == ["7"]
    with Stubber(client) as stub:
        stub.add_response("get_function_configuration", {**base, "LastUpdateStatus": "Failed",
                                                         "LastUpdateStatusReason": "bad zip"}, latest)
        with pytest.raises(AwsSetupError, match="bad zip"):
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
    found = target.reports(since_s=now / 1000 - 1)
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


def test_log_reads_start_at_the_window_and_back_off_when_throttled() -> None:
    client = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    report = Report("33333333-aaaa-4000-8000-000000000003", 4.0, 4, 512, 60)
    waits: list[float] = []
    window = {"logGroupName": "/aws/lambda/fn", "startTime": 1_700_000_000_000, "filterPattern": '"REPORT RequestId"'}
    with Stubber(client) as stub:
        stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", expected_params=window)
        stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded", expected_params=window)
        stub.add_response("filter_log_events", {"events": [{"message": format_report(report), "timestamp": 1}]},
                          window)
        target = AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", None, client, sleep=waits.append)
        assert target.reports(wanted={report.request_id}, since_s=1_700_000_000.0) == {report.request_id: report}
        stub.assert_no_pending_responses()
    assert waits == [0.5, 1.0]  # exponential back-off, then the page
    with Stubber(client) as stub:
        stub.add_client_error("filter_log_events", "AccessDeniedException", "no")
        with pytest.raises(Exception, match="AccessDenied"):
            AwsLambdaTarget("https://x/", "fn", "/aws/lambda/fn", None, client).reports(since_s=0.0)


def test_fargate_cold_start_is_a_timed_scale_out_and_stop_restores_the_count() -> None:
    from datetime import UTC, datetime

    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    elbv2 = boto3.client("elbv2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    t0 = 1_700_000_000.0

    def at(seconds: float) -> datetime:
        return datetime.fromtimestamp(t0 + seconds, tz=UTC)

    service = {"cluster": "c", "services": ["s"]}
    new_task = {"taskArn": "arn:task/new", "lastStatus": "RUNNING", "createdAt": at(2), "pullStartedAt": at(3),
                "pullStoppedAt": at(13), "startedAt": at(15),
                "attachments": [{"details": [{"name": "privateIPv4Address", "value": "10.0.1.9"}]}]}
    target_group = {"TargetGroupArn": "arn:tg"}
    clock = iter([t0, t0 + 21.5])
    target = FargateTarget("http://alb", ecs=ecs, elbv2=elbv2, cluster="c", service="s", target_group_arn="arn:tg",
                           sleep=lambda s: None, clock=lambda: next(clock))
    with Stubber(ecs) as ecs_stub, Stubber(elbv2) as elb_stub:
        ecs_stub.add_response("describe_services", {"services": [{"desiredCount": 2}]}, service)
        ecs_stub.add_response("list_tasks", {"taskArns": ["arn:task/a", "arn:task/b"]},
                              {"cluster": "c", "serviceName": "s"})
        ecs_stub.add_response("update_service", {}, {"cluster": "c", "service": "s", "desiredCount": 3})
        ecs_stub.add_response("list_tasks", {"taskArns": ["arn:task/a", "arn:task/b"]},
                              {"cluster": "c", "serviceName": "s"})
        ecs_stub.add_response("list_tasks", {"taskArns": ["arn:task/a", "arn:task/b", "arn:task/new"]},
                              {"cluster": "c", "serviceName": "s"})
        ecs_stub.add_response("describe_tasks", {"tasks": [new_task]}, {"cluster": "c", "tasks": ["arn:task/new"]})
        elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": [
            {"Target": {"Id": "10.0.1.9"}, "TargetHealth": {"State": "initial"}}]}, target_group)
        elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": [
            {"Target": {"Id": "10.0.1.9"}, "TargetHealth": {"State": "healthy"}}]}, target_group)
        target.force_cold()
        ecs_stub.add_response("update_service", {}, {"cluster": "c", "service": "s", "desiredCount": 2})
        target.stop()
        ecs_stub.assert_no_pending_responses()
        elb_stub.assert_no_pending_responses()
    assert target.cold_path_s == [{"asked_to_created_ms": 2000.0, "created_to_pull_ms": 1000.0,
                                   "image_pull_ms": 10000.0, "pulled_to_running_ms": 2000.0,
                                   "running_to_healthy_ms": 6500.0, "process_to_healthy_ms": 6500.0,
                                   "asked_to_healthy_ms": 21500.0}]
    assert applicable("cold-start", target)


def test_bad_aws_set_up_is_one_line_and_exit_2(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from twinserve.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["bench", "--target", "aws", "--function-stack", "Nope", "--out", "/tmp/x"])
    assert missing.exit_code == 2
    assert "Stack with id Nope does not exist" in missing.output and "Traceback" not in missing.output
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    no_region = runner.invoke(app, ["bench", "--target", "aws", "--out", "/tmp/x"])
    assert no_region.exit_code == 2 and "no AWS region" in no_region.output
