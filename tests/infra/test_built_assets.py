"""The CDK app builds what it deploys: `npx cdk synth` by itself builds the Lambda zip for the
configured architecture (with the project's packager, no Docker), the container context, and
image assets for that platform; a prebuilt package that does not match the template is refused;
and the templates keep the contract the harness relies on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness.aws import (
    FUNCTION_OUTPUTS,
    OUTPUT_CLUSTER_NAME,
    OUTPUT_SERVICE_NAME,
    OUTPUT_SERVICE_URL,
    OUTPUT_TARGET_GROUP,
)
from infra.config import ConfigError, DeploymentConfig
from prediction_core.training import TrainResult
from twinserve.packaging import PackageReport

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_DISABLE_VERSION_CHECK": "1"}


def _synth(out: Path, *context: str) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    assert npx, "make test installs the pinned CDK CLI (npm install)"
    args = [arg for item in context for arg in ("-c", item)]
    return subprocess.run([npx, "cdk", "synth", "--app", f"{sys.executable} -m infra.app", "--output", str(out),
                           "--quiet", "--no-notices", *args], cwd=ROOT, capture_output=True, text=True, env=ENV,
                          timeout=600, check=False)


def _lambda_asset(out: Path) -> Path:
    files = json.loads((out / "TwinserveFunction.assets.json").read_text())["files"]
    zips = [v["source"]["path"] for v in files.values() if v["source"].get("packaging") == "zip"]
    assert len(zips) == 1
    return out / zips[0]


@pytest.fixture(scope="module")
def synthesized(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outs = {}
    for arch in ("arm64", "x86_64"):
        out = tmp_path_factory.mktemp(f"cdk-{arch}")
        proc = _synth(out, f"arch={arch}", f"bundle={logreg_bundle.bundle_dir}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[arch] = out
    return outs


@pytest.mark.slow
def test_synth_builds_the_lambda_package_for_the_configured_architecture(synthesized: dict[str, Path]) -> None:
    reports = {arch: json.loads((_lambda_asset(out) / "package-report.json").read_text())
               for arch, out in synthesized.items()}
    for arch, report in reports.items():
        assert (report["arch"], report["target"], report["door"], report["runtime"]) == (arch, "aws", "native", "onnx")
        assert report["handler"] == "functions.predict.handler.handler"
    arm, x86 = (_lambda_asset(synthesized[a]) for a in ("arm64", "x86_64"))
    assert arm.name != x86.name  # a different asset, not the same zip under two names
    assert list((arm / "numpy.libs").glob("*aarch64*")) or any("aarch64" in p.name for p in arm.rglob("*.so*"))
    assert (arm / "model" / "manifest.json").is_file() and (arm / "functions" / "predict" / "handler.py").is_file()


@pytest.mark.slow
def test_built_templates_pass_cfn_lint(synthesized: dict[str, Path]) -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert cfn_lint
    for out in synthesized.values():
        templates = sorted(str(t) for t in out.glob("*.template.json"))
        lint = subprocess.run([cfn_lint, *templates], capture_output=True, text=True, check=False)
        assert [line for line in lint.stdout.splitlines() if line.startswith("E")] == [], lint.stdout[-3000:]


@pytest.mark.slow
def test_image_assets_are_built_for_the_same_platform(synthesized: dict[str, Path]) -> None:
    for arch, platform in (("arm64", "linux/arm64"), ("x86_64", "linux/amd64")):
        images = json.loads((synthesized[arch] / "TwinserveService.assets.json").read_text())["dockerImages"]
        assert [image["source"]["platform"] for image in images.values()] == [platform]
        context = synthesized[arch] / next(iter(images.values()))["source"]["directory"]
        assert (context / "Dockerfile").is_file() and (context / "model" / "manifest.json").is_file()


def _prebuilt(tmp_path: Path, bundle: Path | None = None, **report: Any) -> Path:
    """A prebuilt package with its report and (given a bundle) its model; the container context
    beside it (tmp_path) gets the model too."""
    out = tmp_path / "prebuilt"
    (out / "package").mkdir(parents=True)
    (out / "package" / "handler.py").write_text("def handler(e, c):\n    return {}\n")
    if bundle is not None:
        shutil.copytree(bundle, out / "package" / "model")
        if not (tmp_path / "model").exists():
            shutil.copytree(bundle, tmp_path / "model")
    fields = {"door": "native", "runtime": "onnx", "arch": "x86_64", "python_version": "3.12", "target": "aws",
              "handler": "functions.predict.handler.handler", "requirements": [], **report}
    PackageReport(**fields).write(out)
    return out / "package"


@pytest.mark.parametrize(("report", "message"), [
    ({"arch": "arm64"}, "built with arch='arm64' but the template deploys arch='x86_64'"),
    ({"runtime": "sklearn"}, "built with runtime='sklearn'"),
    ({"door": "asgi", "handler": "functions.asgi.handler.handler"}, "built with door='asgi'"),
    ({"target": "local"}, "built for 'local', not for AWS"),
])
def test_a_prebuilt_package_that_does_not_match_is_refused(tmp_path: Path, report: dict[str, Any],
                                                           message: str) -> None:
    import aws_cdk as cdk

    from infra.app import build_app

    config = DeploymentConfig.from_mapping({"package_dir": str(_prebuilt(tmp_path, **report)),
                                            "container_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_app(cdk.App(), config)


def test_a_prebuilt_package_without_a_model_or_a_report_is_refused(tmp_path: Path,
                                                                 logreg_bundle: TrainResult) -> None:
    import aws_cdk as cdk

    from infra.app import build_app

    without_model = _prebuilt(tmp_path / "a")
    (tmp_path / "a" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(ConfigError, match=r"package_dir .* has no usable model .*twinserve package"):
        build_app(cdk.App(), DeploymentConfig.from_mapping({"package_dir": str(without_model),
                                                            "container_dir": str(tmp_path / "a")}))
    without_report = tmp_path / "b" / "package"
    shutil.copytree(logreg_bundle.bundle_dir, without_report / "model")
    with pytest.raises(ConfigError, match=r"has no package-report\.json"):
        build_app(cdk.App(), DeploymentConfig.from_mapping({"package_dir": str(without_report),
                                                            "container_dir": str(tmp_path / "a")}))


def test_synth_refuses_in_one_line(tmp_path: Path) -> None:
    proc = _synth(tmp_path / "out", f"package_dir={_prebuilt(tmp_path, arch='arm64')}",
                  f"container_dir={tmp_path}")
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("twinserve: ")]
    assert len(lines) == 1 and "arch='arm64'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_a_missing_bundle_names_the_command_that_makes_it(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from infra.app import build_app

    with pytest.raises(ConfigError, match=r"no model bundle at .*twinserve train --out"):
        build_app(cdk.App(), DeploymentConfig.from_mapping({"bundle": str(tmp_path / "none")}))


# --- the contract between the templates and the harness ------------------------------------------
@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, logreg_bundle: TrainResult) -> Any:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.app import build_app

    root = tmp_path_factory.mktemp("contract")
    package = _prebuilt(root, logreg_bundle.bundle_dir)
    shutil.copy(ROOT / "container_service" / "Dockerfile", root / "Dockerfile")

    def synth(**overrides: Any) -> tuple[Any, Any, Any]:
        config = DeploymentConfig.from_mapping({"package_dir": str(package), "container_dir": str(root),
                                                **overrides})
        function, service = build_app(cdk.App(), config)
        return Template.from_stack(function), Template.from_stack(service), function

    return synth


def test_outputs_are_the_harness_constants(templates: Any) -> None:
    fn, svc, _ = templates()
    assert set(FUNCTION_OUTPUTS) <= set(fn.find_outputs("*"))
    assert {OUTPUT_SERVICE_URL, OUTPUT_CLUSTER_NAME, OUTPUT_SERVICE_NAME, OUTPUT_TARGET_GROUP} <= \
        set(svc.find_outputs("*"))


@pytest.mark.parametrize("api_type", ["http", "rest"])
def test_the_api_invokes_the_alias_the_harness_moves(templates: Any, api_type: str) -> None:
    fn, _, _ = templates(api_type=api_type)
    alias_id = next(iter(fn.find_resources("AWS::Lambda::Alias")))
    assert fn.find_outputs("AliasName")["AliasName"]["Value"] == {"Fn::Select": [7, {"Fn::Split": [":", {
        "Ref": alias_id}]}]} or "live" in json.dumps(fn.find_outputs("AliasName"))
    permissions = fn.find_resources("AWS::Lambda::Permission")
    assert permissions and all(p["Properties"]["FunctionName"] == {"Ref": alias_id} for p in permissions.values())
    kind = "AWS::ApiGatewayV2::Integration" if api_type == "http" else "AWS::ApiGateway::Method"
    assert f'"Ref": "{alias_id}"' in json.dumps(fn.find_resources(kind))


def test_the_rest_api_is_regional(templates: Any) -> None:
    fn, _, _ = templates(api_type="rest")
    fn.has_resource_properties("AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}})


def test_the_service_waits_for_the_capacity_provider_association(templates: Any) -> None:
    _, svc, _ = templates()
    association = next(iter(svc.find_resources("AWS::ECS::ClusterCapacityProviderAssociations")))
    service = next(iter(svc.find_resources("AWS::ECS::Service").values()))
    assert association in service["DependsOn"]


@pytest.mark.parametrize(("api_type", "timeout_s", "warned"), [("http", 31, True), ("http", 30, False),
                                                               ("rest", 30, True), ("rest", 29, False)])
def test_a_timeout_over_the_integration_limit_is_warned_at_synth(templates: Any, api_type: str, timeout_s: int,
                                                                 warned: bool) -> None:
    from aws_cdk.assertions import Annotations, Match

    _, _, stack = templates(api_type=api_type, timeout_s=timeout_s)
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(".*integration timeout.*"))
    assert bool(found) is warned


@pytest.mark.parametrize(("vcpu", "memory_gb", "workers"), [(0.25, 0.5, "1"), (0.5, 1.0, "1"), (1.0, 2.0, "1"),
                                                            (2.0, 4.0, "2"), (4.0, 8.0, "4")])
def test_container_workers_follow_the_task_vcpus(templates: Any, vcpu: float, memory_gb: float,
                                                 workers: str) -> None:
    _, svc, _ = templates(fargate_vcpu=vcpu, fargate_memory_gb=memory_gb)
    task = next(iter(svc.find_resources("AWS::ECS::TaskDefinition").values()))
    env = {e["Name"]: e["Value"] for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert env["TWINSERVE_WORKERS"] == workers


def test_the_request_count_target_comes_from_the_measured_capacity(templates: Any) -> None:
    from aws_cdk.assertions import Match

    # 40 req/s measured per task × 60 s × 70% utilisation = 1,680 requests per target per minute.
    _, svc, _ = templates(per_task_capacity_rps=40.0)
    svc.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "TargetValue": 1680, "PredefinedMetricSpecification": Match.object_like({
                "PredefinedMetricType": "ALBRequestCountPerTarget"})})})
    output = svc.find_outputs("RequestsPerTargetPerMinute")["RequestsPerTargetPerMinute"]
    assert output["Value"] == "1680" and "requests per target per minute" in output["Description"]
