"""Model inputs read from the synthesized CloudFormation templates (cdk.out), so the cost always
matches what `cdk deploy` would create: the function's memory, architecture, front door,
provisioned concurrency and SnapStart; the service's task size, architecture, Spot, public IPs,
NAT gateways and its whole scaling policy (minimum, maximum, request-count and CPU targets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cost_model.compare import Inputs

POLICY_METRICS = {"ALBRequestCountPerTarget": "requests_per_target_per_min",
                  "ECSServiceAverageCPUUtilization": "cpu_target_percent"}
FRONT_DOOR_RESOURCES = (("AWS::ApiGatewayV2::Api", "http"), ("AWS::ApiGateway::RestApi", "rest"),
                        ("AWS::Lambda::Url", "url"), ("AWS::ElasticLoadBalancingV2::LoadBalancer", "alb"))


def _resources(template: Path, kind: str) -> list[dict[str, Any]]:
    data = json.loads(template.read_text())
    return [r.get("Properties", {}) for r in data.get("Resources", {}).values() if r.get("Type") == kind]


def apply_cdk(inputs: Inputs, cdk_out: Path) -> Inputs:
    """Overwrite the deployment settings in `inputs` with the templates' values; note each source."""
    fn_template = cdk_out / "TwinserveFunction.template.json"
    svc_template = cdk_out / "TwinserveService.template.json"
    if not fn_template.is_file() and not svc_template.is_file():
        raise ValueError(f"{cdk_out} holds no TwinserveFunction/TwinserveService templates; run `make synth`")
    deployed = []
    if fn_template.is_file():
        deployed.append(_function(inputs, fn_template))
    if svc_template.is_file():
        deployed.append(_service(inputs, svc_template))
    inputs.deployed_options = deployed
    return inputs


def _function(inputs: Inputs, template: Path) -> str:
    where = f"synthesized template {template.name}"
    functions = _resources(template, "AWS::Lambda::Function")
    mode = ""
    if functions:
        inputs.lambda_memory_mb = int(functions[0]["MemorySize"])
        inputs.lambda_arch = functions[0].get("Architectures", ["x86_64"])[0]
        inputs.provenance["lambda_memory_mb"] = inputs.provenance["lambda_arch"] = where
        if functions[0].get("SnapStart", {}).get("ApplyOn") == "PublishedVersions":
            mode = "snapstart"
    for alias in _resources(template, "AWS::Lambda::Alias"):
        provisioned = alias.get("ProvisionedConcurrencyConfig", {}).get("ProvisionedConcurrentExecutions")
        if provisioned:
            inputs.provisioned_concurrency = int(provisioned)
            inputs.provenance["provisioned_concurrency"] = f"{where} (alias)"
            mode = "pc"
    door = next((d for kind, d in FRONT_DOOR_RESOURCES if _resources(template, kind)), "http")
    inputs.api_type = door
    inputs.provenance["api_type"] = where
    return ":".join(p for p in ("lambda", door, inputs.lambda_arch, mode) if p)


def _service(inputs: Inputs, template: Path) -> str:
    where = f"synthesized template {template.name}"
    tasks = _resources(template, "AWS::ECS::TaskDefinition")
    if tasks:
        inputs.fargate_vcpu = int(tasks[0]["Cpu"]) / 1024
        inputs.fargate_memory_gb = int(tasks[0]["Memory"]) / 1024
        arch = tasks[0].get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
        inputs.fargate_arch = "arm64" if arch == "ARM64" else "x86_64"
        for key in ("fargate_vcpu", "fargate_memory_gb", "fargate_arch"):
            inputs.provenance[key] = where
    scaling = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    if scaling:
        inputs.min_tasks, inputs.max_tasks = int(scaling[0]["MinCapacity"]), int(scaling[0]["MaxCapacity"])
        inputs.provenance["min_tasks"] = inputs.provenance["max_tasks"] = f"{where} (scalable target)"
    inputs.requests_per_target_per_min = inputs.cpu_target_percent = None  # only the policies deployed count
    for policy in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy"):
        config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        metric = config.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
        if metric in POLICY_METRICS:
            setattr(inputs, POLICY_METRICS[metric], float(config["TargetValue"]))
            inputs.provenance[POLICY_METRICS[metric]] = f"{where} (target tracking on {metric})"
    services = _resources(template, "AWS::ECS::Service")
    service = services[0] if services else {}
    spot = any(s.get("CapacityProvider") == "FARGATE_SPOT" for s in service.get("CapacityProviderStrategy", []))
    public = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("AssignPublicIp")
    inputs.public_task_ips = public == "ENABLED"
    inputs.nat_gateways = len(_resources(template, "AWS::EC2::NatGateway"))
    for key in ("public_task_ips", "nat_gateways"):
        inputs.provenance[key] = where
    if spot:
        inputs.provenance["spot_discount"] = (f"FARGATE_SPOT in {template.name}; the price file's dated typical "
                                              "discount unless --spot-discount is given")
    return f"fargate:{inputs.fargate_arch}" + (":spot" if spot else "")
