"""FunctionStack: the Lambda function (zip from `twinserve package lambda`, or the image), an alias
for SnapStart / provisioned concurrency, its front door (`api_type`: an API Gateway HTTP or REST API
with throttling, a function URL, or an internet-facing ALB with the alias as its target), a log group
with retention, and a least-privilege role. Outputs are what the harness reads."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw_rest
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elb_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from infra.assets import lambda_image_code, lambda_zip_code
from infra.config import PUBLIC_ALB_SUPPRESSIONS, RETENTION_NAMES, DeploymentConfig
from prediction_core.aws_limits import LIMITS

ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}
INTEGRATION_TIMEOUT_S = {"http": LIMITS.api_gateway.http_integration_timeout_s,
                         "rest": LIMITS.api_gateway.rest_integration_timeout_s}


class FunctionStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        name = f"{construct_id.lower()}-predict"
        log_group = logs.LogGroup(self, "Logs", log_group_name=f"/aws/lambda/{name}",
                                  retention=retention(config.log_retention_days),
                                  removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="twinserve predict function: write its own logs, nothing else")
        log_group.grant_write(role)
        environment = {"MODEL_RUNTIME": config.runtime, "POWERTOOLS_SERVICE_NAME": "twinserve",
                       "POWERTOOLS_METRICS_NAMESPACE": "twinserve"}
        if config.base_path:  # a custom domain's base path mapping: both doors strip it (functions/events.py)
            environment["TWINSERVE_BASE_PATH"] = config.base_path
        common: dict[str, Any] = {
            "function_name": name, "architecture": ARCHITECTURES[config.arch], "memory_size": config.memory_mb,
            "timeout": Duration.seconds(config.timeout_s), "role": role, "log_group": log_group,
            "environment": environment, "reserved_concurrent_executions": config.reserved_concurrency}
        if config.packaging == "image":
            fn: lambda_.Function = lambda_.DockerImageFunction(self, "Function", code=lambda_image_code(config),
                                                               **common)
        else:
            fn = lambda_.Function(self, "Function", runtime=lambda_.Runtime.PYTHON_3_12, handler=config.handler,
                                  code=lambda_zip_code(config),
                                  snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snapstart else None,
                                  **common)
        # The API invokes this alias; the harness forces cold starts by publishing a version and
        # moving the alias to it (benchmarks/harness/aws.py).
        alias = lambda_.Alias(self, "Live", alias_name="live", version=fn.current_version,
                              provisioned_concurrent_executions=config.provisioned_concurrency or None)
        if config.api_type in INTEGRATION_TIMEOUT_S:
            url = self._api_gateway(config, fn, alias)
        elif config.api_type == "url":
            # No per-request fee of its own; no throttling either (reserved_concurrency caps it).
            url = alias.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE).url
        else:
            url = self._load_balancer(alias)
        CfnOutput(self, "ApiUrl", value=url, description="Base URL: POST {ApiUrl}/predict")
        CfnOutput(self, "FunctionName", value=fn.function_name)
        CfnOutput(self, "AliasName", value=alias.alias_name)
        CfnOutput(self, "LogGroupName", value=log_group.log_group_name)
        self._suppress(config)

    def _api_gateway(self, config: DeploymentConfig, fn: lambda_.Function, alias: lambda_.Alias) -> str:
        integration_limit_s = INTEGRATION_TIMEOUT_S[config.api_type]
        if config.timeout_s > integration_limit_s:
            Annotations.of(fn).add_warning_v2(
                "twinserve:timeout-over-integration-limit",
                f"timeout_s={config.timeout_s} is over the {config.api_type.upper()} API's {integration_limit_s} s "
                f"integration timeout: a request running longer gets a {'503' if config.api_type == 'http' else '504'}"
                " from API Gateway while the function goes on (and is billed)")
        if config.api_type == "http":
            api = apigw.HttpApi(self, "Api", description="twinserve predictions (HTTP API)",
                                default_integration=integrations.HttpLambdaIntegration("Predict", alias))
            stage = api.default_stage.node.default_child  # type: ignore[union-attr]
            stage.add_property_override("DefaultRouteSettings", {  # type: ignore[union-attr]
                "ThrottlingRateLimit": config.throttle_rate_per_s, "ThrottlingBurstLimit": config.throttle_burst})
            return api.api_endpoint
        # REGIONAL: an EDGE API adds a CloudFront hop to every request, and its 29 s integration
        # timeout cannot be raised (regional ones can, since 2024-06).
        rest = apigw_rest.LambdaRestApi(self, "Api", handler=alias, description="twinserve predictions (REST)",
                                        endpoint_types=[apigw_rest.EndpointType.REGIONAL],
                                        cloud_watch_role=False,  # execution logging is off (see APIG6)
                                        deploy_options=apigw_rest.StageOptions(
                                            throttling_rate_limit=config.throttle_rate_per_s,
                                            throttling_burst_limit=config.throttle_burst))
        return rest.url

    def _load_balancer(self, alias: lambda_.Alias) -> str:
        """An internet-facing ALB in two public subnets (no NAT), the alias its only target. Behind an
        ALB, Lambda's request and response limit is 1 MB."""
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)])
        lb = elbv2.ApplicationLoadBalancer(self, "Alb", vpc=vpc, internet_facing=True)
        listener = lb.add_listener("Http", port=80, open=True)
        listener.add_targets("Predict", targets=[elb_targets.LambdaTarget(alias)])
        return f"http://{lb.load_balancer_dns_name}"

    def _suppress(self, config: DeploymentConfig) -> None:
        reasons = [
            {"id": "AwsSolutions-APIG4", "reason": "A public prediction endpoint for benchmarking; put an authorizer "
                                                   "in front (IAM, JWT) before exposing it to users."},
            {"id": "AwsSolutions-APIG1", "reason": "Access logs cost per request and would distort the cost "
                                                   "comparison; enable them for production."},
            {"id": "AwsSolutions-IAM5", "reason": "log_group.grant_write scopes to this log group's streams "
                                                  "(arn:…:log-group:NAME:*), which needs the stream wildcard."},
            {"id": "AwsSolutions-L1", "reason": "Python 3.12 is pinned on purpose: packages are built and measured "
                                                "for it (binary wheels are version-specific)."},
        ]
        if config.api_type == "alb":
            reasons += PUBLIC_ALB_SUPPRESSIONS
        if config.api_type == "rest":
            reasons += [
                {"id": "AwsSolutions-APIG2", "reason": "Request validation happens in the function (the shared "
                                                       "contract), identically for every door."},
                {"id": "AwsSolutions-APIG3", "reason": "WAF is a per-account decision with its own cost; not "
                                                       "part of the comparison."},
                {"id": "AwsSolutions-APIG6", "reason": "Execution logging off for the same reason as access logs."},
                {"id": "AwsSolutions-COG4", "reason": "No Cognito: see APIG4."},
            ]
        NagSuppressions.add_stack_suppressions(self, reasons)


def retention(days: int) -> logs.RetentionDays:
    value: logs.RetentionDays = getattr(logs.RetentionDays, RETENTION_NAMES[days])
    return value
