"""CDK stacks: configuration validation, template assertions per stack and option, and the pinned
`npx cdk synth` end to end followed by cfn-lint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, DeploymentConfig
from prediction_core.training import TrainResult

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory, logreg_bundle: TrainResult) -> dict[str, str]:
    """Prebuilt assets, each with a model that verifies (the app refuses one without)."""
    root = tmp_path_factory.mktemp("assets")
    (root / "package").mkdir()
    (root / "package" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "container").mkdir()
    shutil.copy(ROOT / "container_service" / "Dockerfile", root / "container" / "Dockerfile")
    (root / "images" / "image").mkdir(parents=True)
    shutil.copy(ROOT / "functions" / "Dockerfile", root / "images" / "image" / "Dockerfile")
    for asset in (root / "package", root / "container", root / "images" / "image"):
        shutil.copytree(logreg_bundle.bundle_dir, asset / "model")
    return {"package_dir": str(root / "package"), "container_dir": str(root / "container"),
            "image_dir": str(root / "images" / "image")}


def write_matching_reports(config: DeploymentConfig) -> None:
    """What `twinserve package` would have recorded for prebuilt assets of this configuration."""
    from twinserve.packaging import PackageReport

    fields = {"door": config.door, "runtime": config.runtime, "arch": config.arch, "python_version": "3.12",
              "target": "aws", "handler": config.handler, "requirements": []}
    PackageReport(**fields).write(Path(config.package_dir))
    PackageReport(**fields).write(Path(config.image_dir).parent)


@pytest.fixture(scope="module")
def synth(assets: dict[str, str]) -> Callable[..., tuple[Any, Any]]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match, Template

    from infra.app import build_app

    def run(**overrides: Any) -> tuple[Any, Any]:
        config = DeploymentConfig.from_mapping({**assets, **overrides})
        write_matching_reports(config)
        app = cdk.App()
        function, service = build_app(app, config)
        for stack in (function, service):
            errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp(".*"))
            assert errors == [], [str(e.entry.data)[:300] for e in errors]  # cdk-nag: nothing unresolved
        return Template.from_stack(function), Template.from_stack(service)

    return run


@pytest.fixture(scope="module")
def default(synth: Callable[..., tuple[Any, Any]]) -> tuple[Any, Any]:
    return synth()


def test_function_defaults(default: tuple[Any, Any]) -> None:
    from aws_cdk.assertions import Match

    fn, _ = default
    fn.has_resource_properties("AWS::Lambda::Function", {
        "Runtime": "python3.12", "Handler": "functions.predict.handler.handler", "MemorySize": 1024, "Timeout": 10,
        "Architectures": ["x86_64"],
        "Environment": {"Variables": Match.object_like({"MODEL_RUNTIME": "onnx",
                                                        "POWERTOOLS_SERVICE_NAME": "twinserve"})},
    })
    fn.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    fn.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP"})
    fn.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default"})
    fn.has_resource_properties("AWS::ApiGatewayV2::Stage", {"DefaultRouteSettings": {
        "ThrottlingRateLimit": 500, "ThrottlingBurstLimit": 1000}})
    fn.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    outputs = fn.find_outputs("*")
    assert {"ApiUrl", "FunctionName", "AliasName", "LogGroupName"} <= set(outputs)


def test_function_role_is_least_privilege(default: tuple[Any, Any]) -> None:
    fn, _ = default
    policies = fn.find_resources("AWS::IAM::Policy")
    actions = {a for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= {"logs:CreateLogStream", "logs:PutLogEvents"}
    roles = fn.find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles.values())


def test_service_defaults(default: tuple[Any, Any]) -> None:
    from aws_cdk.assertions import Match

    _, svc = default
    svc.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "512", "Memory": "1024",
                                                             "RequiresCompatibilities": ["FARGATE"]})
    svc.has_resource_properties("AWS::ECS::Service", {
        "DesiredCount": 2, "DeploymentConfiguration": Match.object_like({
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}})})
    svc.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {
        "HealthCheckPath": "/health", "Port": 80,
        "TargetGroupAttributes": Match.array_with([{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])})
    svc.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 10})
    svc.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 2)
    svc.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 60})})
    svc.resource_count_is("AWS::EC2::NatGateway", 0)
    assert {"ServiceUrl", "ClusterName", "ServiceName", "LogGroupName"} <= set(svc.find_outputs("*"))


def test_options_reach_the_templates(synth: Callable[..., tuple[Any, Any]]) -> None:
    from aws_cdk.assertions import Match

    fn, svc = synth(runtime="sklearn", door="asgi", arch="arm64", memory_mb=2048, timeout_s=20,
                    reserved_concurrency=50, provisioned_concurrency=5, api_type="rest", log_retention_days=7,
                    fargate_vcpu=1.0, fargate_memory_gb=4.0, min_tasks=3, max_tasks=12, spot=True,
                    private_subnets=True, requests_per_target=500)
    fn.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "functions.asgi.handler.handler", "MemorySize": 2048, "Timeout": 20, "Architectures": ["arm64"],
        "ReservedConcurrentExecutions": 50,
        "Environment": {"Variables": Match.object_like({"MODEL_RUNTIME": "sklearn"})}})
    fn.has_resource_properties("AWS::Lambda::Alias", {
        "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 5}})
    fn.resource_count_is("AWS::ApiGateway::RestApi", 1)
    fn.has_resource_properties("AWS::ApiGateway::Stage", {"MethodSettings": Match.array_with([Match.object_like({
        "ThrottlingRateLimit": 500, "ThrottlingBurstLimit": 1000})])})
    fn.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
    svc.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "1024", "Memory": "4096",
                                                             "RuntimePlatform": Match.object_like(
                                                                 {"CpuArchitecture": "ARM64"})})
    svc.has_resource_properties("AWS::ECS::Service", {"CapacityProviderStrategy": [
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]})
    svc.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 3, "MaxCapacity": 12})
    svc.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 500})})
    svc.resource_count_is("AWS::EC2::NatGateway", 1)


def test_the_lean_runtime_is_a_deployable_choice(synth: Callable[..., tuple[Any, Any]]) -> None:
    from aws_cdk.assertions import Match

    fn, svc = synth(runtime="lean")
    svc.has_resource_properties("AWS::ECS::TaskDefinition", {"ContainerDefinitions": Match.array_with([
        Match.object_like({"Environment": Match.array_with([{"Name": "MODEL_RUNTIME", "Value": "lean"}])})])})
    fn.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"MODEL_RUNTIME": "lean"})}})


def test_snapstart_on_published_versions(synth: Callable[..., tuple[Any, Any]]) -> None:
    fn, _ = synth(snapstart=True)
    fn.has_resource_properties("AWS::Lambda::Function", {"SnapStart": {"ApplyOn": "PublishedVersions"}})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"fargate_vcpu": 0.25, "fargate_memory_gb": 3.0}, "3 GB is not valid with 0.25 vCPU on Fargate"),
        ({"snapstart": True, "provisioned_concurrency": 2}, "cannot be combined"),
        ({"memory_mb": 20480}, "128 to 10240 MB"),
        ({"timeout_s": 901}, "1 to 900 s"),
        ({"runtime": "tensorflow"}, "runtime='tensorflow' is not one of onnx, sklearn, lean"),
        ({"snapstart": True, "packaging": "image"}, "zip packages only"),
        ({"min_tasks": 5, "max_tasks": 2}, "min_tasks <= max_tasks"),
        ({"log_retention_days": 10}, "log_retention_days=10 is not one of"),
        ({"memory": 512}, "unknown settings ['memory']"),
        ({"memory_mb": "lots"}, "is not a int"),
        ({"reserved_concurrency": 2, "provisioned_concurrency": 3}, "cannot exceed reserved"),
        ({"base_path": "ml"}, "base_path='ml': empty, or a path like /ml"),
        ({"base_path": "/ml/"}, "no trailing /"),
        ({"api_type": "grpc"}, "api_type='grpc' is not one of http, rest, url, alb"),
    ],
)
def test_invalid_configurations_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_mapping(settings)
    assert message in str(info.value)


def test_context_strings_are_coerced() -> None:
    values = {"memory_mb": "2048", "spot": "true", "fargate_vcpu": "1", "fargate_memory_gb": "2",
              "reserved_concurrency": "10"}
    config = DeploymentConfig.from_context(values.get)
    assert (config.memory_mb, config.spot, config.fargate_vcpu, config.reserved_concurrency) == (2048, True, 1.0, 10)


def test_npx_cdk_synth_and_cfn_lint(assets: dict[str, str], tmp_path: Path) -> None:
    npx = shutil.which("npx")
    cdk_cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert npx and cdk_cli.exists(), "make test installs the pinned CDK CLI (npm install)"
    context = [arg for key, value in assets.items() for arg in ("-c", f"{key}={value}")]
    out = tmp_path / "cdk.out"
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_DISABLE_VERSION_CHECK": "1"}
    proc = subprocess.run([npx, "cdk", "synth", "--app", f"{sys.executable} -m infra.app", "--output", str(out),
                           "--quiet", "--no-notices", *context], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    templates = sorted(out.glob("*.template.json"))
    assert {t.name for t in templates} == {"TwinserveFunction.template.json", "TwinserveService.template.json"}
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint
    lint = subprocess.run([cfn_lint, *map(str, templates)], capture_output=True, text=True, check=False)
    errors = [line for line in lint.stdout.splitlines() if line.startswith("E")]
    assert errors == [], lint.stdout[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"]  # a cloud assembly the pinned CLI could read
    # the cost model reads the deployed sizes from these very templates
    from typer.testing import CliRunner

    from twinserve.cli import app

    result = CliRunner().invoke(app, ["cost", "compare", "--from-cdk", str(out), "--profile", "constant",
                                      "--peak-rps", "10", "--json"])
    assert result.exit_code == 0, result.output
    inputs = json.loads(result.stdout)["inputs"]
    assert (inputs["lambda_memory_mb"], inputs["fargate_vcpu"], inputs["fargate_memory_gb"], inputs["min_tasks"],
            inputs["nat_gateways"], inputs["api_type"]) == (1024, 0.5, 1.0, 2, 0, "http")
    assert inputs["provenance"]["fargate_vcpu"] == "synthesized template TwinserveService.template.json"


def test_the_cost_model_runs_the_fleet_the_service_stack_deploys(synth: Callable[..., tuple[Any, Any]],
                                                                  tmp_path: Path) -> None:
    """At 100 req/s the modeled task count is what the synthesized ServiceStack's policies run for the
    same per-task capacity: read from the template by hand here, through `--from-cdk` there."""
    import math

    import numpy as np

    from cost_model.compare import Inputs
    from cost_model.fleet import fleet_per_minute, steady_tasks
    from cost_model.from_cdk import apply_cdk

    function, service = synth(min_tasks=2, max_tasks=12, cpu_target_percent=50, per_task_capacity_rps=40.0,
                              provisioned_concurrency=3)
    (tmp_path / "TwinserveFunction.template.json").write_text(json.dumps(function.to_json()))
    (tmp_path / "TwinserveService.template.json").write_text(json.dumps(service.to_json()))
    resources = service.to_json()["Resources"].values()
    (target,) = [r["Properties"] for r in resources if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"]
    policies = {p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
        "PredefinedMetricType"]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in resources if p["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"}
    capacity_rps, rate = 40.0, 100.0
    by_requests = math.ceil(rate * 60 / policies["ALBRequestCountPerTarget"])  # 6,000/min over 40×60×0.7 = 1,680
    by_cpu = math.ceil(100 * rate / capacity_rps / policies["ECSServiceAverageCPUUtilization"])  # 250% / 50%
    expected = min(max(by_requests, by_cpu, target["MinCapacity"]), target["MaxCapacity"])
    assert expected == 5

    inputs = apply_cdk(Inputs(per_task_rps=capacity_rps), tmp_path)
    assert (inputs.min_tasks, inputs.max_tasks, inputs.cpu_target_percent, inputs.requests_per_target_per_min) \
        == (2, 12, 50.0, 1680.0)
    assert steady_tasks(inputs.policy, np.array([rate]), capacity_rps)[0] == expected
    running, _ = fleet_per_minute(inputs.policy, np.full(60, rate), capacity_rps)
    assert running[-1] == expected
    assert inputs.deployed_options == ["lambda:http:x86_64:pc", "fargate:x86_64"]
    assert inputs.provisioned_concurrency == 3 and inputs.public_task_ips


def test_base_path_reaches_the_function(synth: Callable[..., tuple[Any, Any]]) -> None:
    from aws_cdk.assertions import Match

    function, _ = synth(base_path="/ml")
    function.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"TWINSERVE_BASE_PATH": "/ml"})}})


@pytest.mark.parametrize("front_door", ["url", "alb"])
def test_function_url_and_alb_front_doors(synth: Callable[..., tuple[Any, Any]], tmp_path: Path,
                                          front_door: str) -> None:
    from aws_cdk.assertions import Match

    from cost_model.compare import Inputs
    from cost_model.from_cdk import apply_cdk

    function, _ = synth(api_type=front_door)
    function.resource_count_is("AWS::ApiGatewayV2::Api", 0)
    function.resource_count_is("AWS::ApiGateway::RestApi", 0)
    if front_door == "url":
        function.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE", "Qualifier": "live"})
    else:
        function.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing"})
        function.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {"TargetType": "lambda"})
        function.has_resource_properties("AWS::Lambda::Permission", {
            "Principal": "elasticloadbalancing.amazonaws.com", "FunctionName": Match.any_value()})
        function.resource_count_is("AWS::EC2::NatGateway", 0)
    function.has_output("ApiUrl", {})
    (tmp_path / "TwinserveFunction.template.json").write_text(json.dumps(function.to_json()))
    inputs = apply_cdk(Inputs(), tmp_path)
    assert inputs.deployed_options == [f"lambda:{front_door}:x86_64"]
