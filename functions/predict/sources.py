"""Event sources of the native door, Mangum-style: the first whose `infer` accepts the event reads
its method and path and shapes the response the way that source requires.

This replaces Powertools' event_handler resolvers, whose package imports every resolver (AppSync
and asyncio included: about 70 ms of every cold start) for the three routes this door has. The
shapes follow what those resolvers returned, so the answers are unchanged (the door differential
test compares them with the container and the ASGI door):
- HTTP API (payload 2.0) and function URLs: `headers` (one string each) and `cookies`;
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
- REST API (1.0): `multiValueHeaders`;
  https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
- ALB: `multiValueHeaders` when the target group has them enabled (the event then carries
  `multiValueHeaders`), else `headers`.
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
"""

from __future__ import annotations

from typing import Any, Protocol

from functions import events


class EventSource(Protocol):
    name: str

    def infer(self, event: dict[str, Any]) -> bool: ...

    def method(self, event: dict[str, Any]) -> str: ...

    def path(self, event: dict[str, Any]) -> str: ...

    def response(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]: ...


def _proxy_response(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "body": body, "isBase64Encoded": False}


class HttpApi:
    """API Gateway HTTP API, payload format 2.0 (function URLs send the same shape)."""

    name = "http-api-v2"

    def infer(self, event: dict[str, Any]) -> bool:
        return event.get("version") == "2.0"

    def method(self, event: dict[str, Any]) -> str:
        method: str = event["requestContext"]["http"]["method"]
        return method

    def path(self, event: dict[str, Any]) -> str:
        """rawPath without a named stage's prefix or the custom domain's base path."""
        return events.routed_path(event)

    def response(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        return {**_proxy_response(status, body), "headers": headers, "cookies": []}


class RestApi:
    """API Gateway REST API, payload format 1.0 (`path` is the resource path, without the stage)."""

    name = "rest-api-v1"

    def infer(self, event: dict[str, Any]) -> bool:
        return "httpMethod" in event

    def method(self, event: dict[str, Any]) -> str:
        method: str = event["httpMethod"]
        return method

    def path(self, event: dict[str, Any]) -> str:
        return events.routed_path(event)

    def response(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        return {**_proxy_response(status, body), "multiValueHeaders": {k: [v] for k, v in headers.items()}}


class Alb(RestApi):
    """Application Load Balancer: the REST shape's method and path, its own header rule."""

    name = "alb"

    def infer(self, event: dict[str, Any]) -> bool:
        return "elb" in (event.get("requestContext") or {})

    def response(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        description = {"statusDescription": events.alb_status_description(status)}
        if "multiValueHeaders" in event:
            return {**super().response(event, status, headers, body), **description}
        return {**_proxy_response(status, body), **description, "headers": headers}


# Most specific first: an ALB event also has httpMethod.
SOURCES: tuple[EventSource, ...] = (Alb(), HttpApi(), RestApi())


def source_for(event: dict[str, Any]) -> EventSource | None:
    return next((source for source in SOURCES if source.infer(event)), None)
