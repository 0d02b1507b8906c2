"""The CDK app: wires the configuration into the two stacks (run by `npx cdk synth|deploy`)."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import DeploymentConfig
from infra.function_stack import FunctionStack
from infra.service_stack import ServiceStack


def build_app(app: cdk.App, config: DeploymentConfig) -> tuple[FunctionStack, ServiceStack]:
    function = FunctionStack(app, "TwinserveFunction", config=config,
                             description="twinserve: the model behind Lambda + API Gateway")
    service = ServiceStack(app, "TwinserveService", config=config,
                           description="twinserve: the model behind Fargate + ALB")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return function, service


def main() -> None:
    app = cdk.App()
    build_app(app, DeploymentConfig.from_context(app.node.try_get_context))
    app.synth()


if __name__ == "__main__":
    main()
