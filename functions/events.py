"""What both Lambda doors accept before routing: the shape of an HTTP event from API Gateway (REST
v1, HTTP API v2, function URL) or an ALB. A direct invocation with anything else (not an object,
headers that are not an object, a method that is not a string…) gets the contract's 400
`unsupported_event`, the same from both doors, never an unhandled error."""

from __future__ import annotations

from typing import Any

from prediction_core import contract

UNSUPPORTED = ("this function answers API Gateway (HTTP API v2, REST API v1) and ALB events; invoke it through "
               "one of them")


def _mapping_of_strings(value: Any, *, lists: bool = False) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        if lists and isinstance(item, list):
            if not all(isinstance(v, str) for v in item):
                return False
        elif not isinstance(item, str):
            return False
    return True


def shape_problem(event: Any) -> str | None:
    """Why this is not an HTTP event either door can answer, or None."""
    if not isinstance(event, dict):
        return f"the event is a JSON {type(event).__name__}, not an object"
    context = event.get("requestContext")
    if context is not None and not isinstance(context, dict):
        return "requestContext is not an object"
    for name, lists in (("headers", False), ("multiValueHeaders", True), ("queryStringParameters", False),
                        ("multiValueQueryStringParameters", True)):
        if not _mapping_of_strings(event.get(name), lists=lists):
            return f"{name} is not an object of strings"
    if event.get("version") == "2.0":
        http = (context or {}).get("http")
        if not isinstance(http, dict) or not isinstance(http.get("method"), str):
            return "requestContext.http.method is missing or not a string"
        if not isinstance(event.get("rawPath"), str):
            return "rawPath is missing or not a string"
    elif "httpMethod" in event or "path" in event:
        if not isinstance(event.get("httpMethod"), str):
            return "httpMethod is missing or not a string"
        if not isinstance(event.get("path"), str):
            return "path is missing or not a string"
    else:
        return "neither an HTTP API v2 event (version 2.0) nor a REST API or ALB event (httpMethod, path)"
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        return "body is not a string"
    return None


def unsupported(problem: str) -> dict[str, Any]:
    """The 400 both doors answer to an event they cannot read, in the shape a proxy integration expects."""
    body = contract.error_body("unsupported_event", f"{UNSUPPORTED} ({problem})")
    return {"statusCode": 400, "headers": {"content-type": "application/json"},
            "body": contract.HttpResult(400, body).encoded().decode()}
