"""Model inputs read from the synthesized CloudFormation templates (cdk.out), so the cost always
matches what `cdk deploy` would create."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cost_model.compare import Inputs

SPOT_DISCOUNT_ASSUMED = 0.7  # AWS says "up to 70%"; the exact rate varies: state it, let users override


def _resources(template: Path, kind: str) -> list[dict[str, Any]]:
    data = json.loads(template.read_text())
    return [r.get("Properties", {}) for r in data.get("Resources", {}).values() if r.get("Type") == kind]


def apply_cdk(inputs: Inputs, cdk_out: Path) -> Inputs:
    """Overwrite the deployment settings in `inputs` with the templates' values; note each source."""
    prov = dict(inputs.provenance)
    fn_template = cdk_out / "TwinserveFunction.template.json"
    svc_template = cdk_out / "TwinserveService.template.json"
    if not fn_template.is_file() and not svc_template.is_file():
        raise ValueError(f"{cdk_out} holds no TwinserveFunction/TwinserveService templates; run `make synth`")
    if fn_template.is_file():
        functions = _resources(fn_template, "AWS::Lambda::Function")
        if functions:
            inputs.lambda_memory_mb = int(functions[0]["MemorySize"])
            inputs.lambda_arch = functions[0].get("Architectures", ["x86_64"])[0]
            prov["lambda_memory_mb"] = prov["lambda_arch"] = f"synthesized template {fn_template.name}"
        inputs.api_type = "rest" if _resources(fn_template, "AWS::ApiGateway::RestApi") else "http"
        prov["api_type"] = f"synthesized template {fn_template.name}"
    if svc_template.is_file():
        tasks = _resources(svc_template, "AWS::ECS::TaskDefinition")
        if tasks:
            inputs.fargate_vcpu = int(tasks[0]["Cpu"]) / 1024
            inputs.fargate_memory_gb = int(tasks[0]["Memory"]) / 1024
            arch = tasks[0].get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
            inputs.fargate_arch = "arm64" if arch == "ARM64" else "x86_64"
            for key in ("fargate_vcpu", "fargate_memory_gb", "fargate_arch"):
                prov[key] = f"synthesized template {svc_template.name}"
        scaling = _resources(svc_template, "AWS::ApplicationAutoScaling::ScalableTarget")
        if scaling:
            inputs.min_tasks = int(scaling[0]["MinCapacity"])
            prov["min_tasks"] = f"synthesized template {svc_template.name} (autoscaling minimum)"
        services = _resources(svc_template, "AWS::ECS::Service")
        strategy = services[0].get("CapacityProviderStrategy", []) if services else []
        if any(s.get("CapacityProvider") == "FARGATE_SPOT" for s in strategy):
            inputs.spot_discount = SPOT_DISCOUNT_ASSUMED
            prov["spot_discount"] = (f"FARGATE_SPOT in {svc_template.name}; discount {SPOT_DISCOUNT_ASSUMED:.0%} "
                                     "assumed (AWS: 'up to 70%')")
        inputs.nat_gateways = len(_resources(svc_template, "AWS::EC2::NatGateway"))
        prov["nat_gateways"] = f"synthesized template {svc_template.name}"
    inputs.provenance = prov
    return inputs
