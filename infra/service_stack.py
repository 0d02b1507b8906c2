"""ServiceStack: a VPC (public subnets, no NAT by default), an ECS cluster, the Fargate service from
the container build context, an ALB with a /health check, autoscaling on CPU and request count,
and a deployment circuit breaker with rollback."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as patterns
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from infra.assets import PLATFORMS, container_context
from infra.config import PUBLIC_ALB_SUPPRESSIONS, DeploymentConfig
from infra.function_stack import retention

CONTAINER_PORT = 8080
CPU_ARCHITECTURES = {"x86_64": ecs.CpuArchitecture.X86_64, "arm64": ecs.CpuArchitecture.ARM64}


class ServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        if config.private_subnets:
            # Tasks in private subnets need a NAT gateway to pull images and reach AWS: the cost
            # model prices it (cost_model.container_costs.nat_bill).
            subnets = [ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                       ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)]
            nat_gateways = 1
        else:
            subnets = [ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)]
            nat_gateways = 0
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=nat_gateways, subnet_configuration=subnets)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=(
            ecs.ContainerInsights.ENABLED if config.container_insights else ecs.ContainerInsights.DISABLED))
        log_group = logs.LogGroup(self, "Logs", retention=retention(config.log_retention_days),
                                  removal_policy=RemovalPolicy.DESTROY)
        service = patterns.ApplicationLoadBalancedFargateService(
            self, "Service", cluster=cluster, cpu=int(config.fargate_vcpu * 1024),
            memory_limit_mib=int(config.fargate_memory_gb * 1024), desired_count=config.min_tasks,
            public_load_balancer=True, assign_public_ip=not config.private_subnets,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if config.private_subnets
                                             else ec2.SubnetType.PUBLIC),
            runtime_platform=ecs.RuntimePlatform(cpu_architecture=CPU_ARCHITECTURES[config.arch],
                                                 operating_system_family=ecs.OperatingSystemFamily.LINUX),
            task_image_options=patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_asset(str(container_context(config)), platform=PLATFORMS[config.arch],
                                                    build_args={"MODEL_RUNTIME": config.runtime}),
                container_port=CONTAINER_PORT,
                environment={"MODEL_RUNTIME": config.runtime,
                             "TWINSERVE_WORKERS": str(config.container_workers)},
                log_driver=ecs.LogDrivers.aws_logs(stream_prefix="twinserve", log_group=log_group)),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,  # a deployment never drops below the desired count (it adds first)
            capacity_provider_strategies=[ecs.CapacityProviderStrategy(
                capacity_provider="FARGATE_SPOT" if config.spot else "FARGATE", weight=1)],
        )
        cluster.enable_fargate_capacity_providers()
        # The service's capacity-provider strategy needs the cluster's association to exist first (and
        # to outlive it on delete): without this dependency CloudFormation may create or delete them
        # in either order and fail (aws/containers-roadmap#631). CDK creates the association lazily, so
        # the dependency is on the cluster construct: every resource under it, the association included.
        service.service.node.add_dependency(cluster)
        service.target_group.configure_health_check(path="/health", healthy_http_codes="200",
                                                    interval=Duration.seconds(10), timeout=Duration.seconds(5),
                                                    healthy_threshold_count=2, unhealthy_threshold_count=3)
        # Default 300 s keeps a stopping task around for five minutes; requests here take milliseconds.
        service.target_group.set_attribute("deregistration_delay.timeout_seconds", "30")
        scaling = service.service.auto_scale_task_count(min_capacity=config.min_tasks, max_capacity=config.max_tasks)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=config.cpu_target_percent)
        per_minute = config.requests_per_target_per_minute
        scaling.scale_on_request_count("Requests", requests_per_target=per_minute, target_group=service.target_group)
        CfnOutput(self, "ServiceUrl", value=f"http://{service.load_balancer.load_balancer_dns_name}")
        CfnOutput(self, "ClusterName", value=cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=service.service.service_name)
        CfnOutput(self, "LogGroupName", value=log_group.log_group_name)
        CfnOutput(self, "TargetGroupArn", value=service.target_group.target_group_arn)
        CfnOutput(self, "RequestsPerTargetPerMinute", value=str(per_minute),
                  description="Request-count scaling target (ALBRequestCountPerTarget, requests per target per "
                              "minute)" + (f", from {config.per_task_capacity_rps or config.capacity_from} at "
                                           f"{config.capacity_utilization:.0%} utilisation"
                                           if config.per_task_capacity_rps or config.capacity_from else ""))
        NagSuppressions.add_stack_suppressions(self, [
            *PUBLIC_ALB_SUPPRESSIONS,
            {"id": "AwsSolutions-ECS4", "reason": "Container Insights is an option (container_insights=true): it "
                                                  "has its own cost."},
            {"id": "AwsSolutions-IAM5", "reason": "The task execution role's ECR and logs permissions come from "
                                                  "CDK's grants, scoped to this repository and log group."},
            {"id": "AwsSolutions-ECS2", "reason": "The environment holds settings only (runtime, workers), no "
                                                  "secrets."},
        ])
