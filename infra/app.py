"""The CDK app: wires the configuration into the two stacks (run by `npx cdk synth|deploy`)."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, DeploymentConfig
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
    try:
        build_app(app, DeploymentConfig.from_context(app.node.try_get_context))
    except ConfigError as exc:  # one line for `cdk synth` / `cdk deploy` to show, not a jsii traceback
        sys.stderr.write(f"twinserve: {exc}\n")
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
