"""What both Lambda doors accept before routing: the shape of an HTTP event from API Gateway (REST
v1, HTTP API v2, function URL) or an ALB. A direct invocation with anything else (not an object,
headers that are not an object, a method that is not a string…) gets the contract's 400
`unsupported_event`, the same from both doors, never an unhandled error."""

from __future__ import annotations

import base64
import binascii
import os
from http import HTTPStatus
from typing import Any

from prediction_core import contract

# A custom domain's base path mapping (`/ml` for https://api.example.com/ml/predict) reaches the
# function in the path; both doors strip it, as Powertools' `strip_prefixes` and Mangum's
# `api_gateway_base_path` do. Set by the FunctionStack from its `base_path` setting.
BASE_PATH = os.environ.get("TWINSERVE_BASE_PATH", "").rstrip("/")

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


def _utf8(value: Any) -> bool:
    """False for a string no front door could have sent: one with a lone surrogate (a JSON escape
    such as \\ud800, possible only in a direct invocation), which cannot be encoded as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_utf8(k) and _utf8(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(_utf8, value))
    return True


# Fields both doors read as strings; each must be a string when present (Mangum reads them all).
_V2_STRINGS = (("rawQueryString",), ("requestContext", "http", "path"), ("requestContext", "stage"))


def shape_problem(event: Any) -> str | None:
    """Why this is not an HTTP event either door can answer, or None."""
    if not isinstance(event, dict):
        return f"the event is a JSON {type(event).__name__}, not an object"
    context = event.get("requestContext")
    if context is not None and not isinstance(context, dict):
        return "requestContext is not an object"
    if not _utf8(event):
        return "a string in the event is not valid UTF-8 (a lone surrogate)"
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
        for path in _V2_STRINGS:
            value: Any = event
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None and not isinstance(value, str):
                return f"{'.'.join(path)} is not a string"
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


def _strip(path: str, prefix: str) -> str:
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix):] or "/"
    return path


def routed_path(event: dict[str, Any]) -> str:
    """The path the doors route on: an HTTP API v2 event's rawPath without a named stage's prefix
    (`/prod/predict` on stage `prod`; function URLs and `$default` have none), a REST or ALB event's
    path; then without the custom domain's base path, if one is set."""
    if event.get("version") == "2.0":
        raw: str = event["rawPath"]
        stage = (event.get("requestContext") or {}).get("stage", "$default")
        path = _strip(raw, f"/{stage}") if isinstance(stage, str) and stage != "$default" else raw
    else:
        path = event["path"]
    return _strip(path, BASE_PATH)


def alb_status_description(status: int) -> str:
    """The status line an ALB response carries (`200 OK`)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def header(event: Any, name: str) -> str | None:
    """A header by lower-case name. A header sent more than once is its values joined with commas,
    in order, as an HTTP API hands it over (RFC 9110 §5.3): from multiValueHeaders (a REST API and a
    multi-value ALB keep every value there), else headers (where a REST API keeps only the last).
    Both doors read duplicated headers this one way. None when absent or not a string."""
    if not isinstance(event, dict):
        return None
    for source in (event.get("multiValueHeaders"), event.get("headers")):
        for key, value in (source if isinstance(source, dict) else {}).items():
            if isinstance(key, str) and key.lower() == name:
                if isinstance(value, list):
                    value = ",".join(v for v in value if isinstance(v, str)) if value else None
                return value if isinstance(value, str) else None
    return None


def base64_problem(event: dict[str, Any]) -> str | None:
    """Why a body flagged isBase64Encoded cannot be decoded, or None."""
    body = event.get("body")
    if not event.get("isBase64Encoded") or body is None:
        return None
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        return str(exc)
    return None


def malformed_base64(problem: str, request_id: str) -> dict[str, Any]:
    """The 400 both doors answer, before routing, to a body that says base64 and is not."""
    result = contract.error_result(400, "malformed_body", f"body is not valid base64: {problem}")
    return {"statusCode": 400, "headers": {"content-type": "application/json", contract.REQUEST_ID_HEADER: request_id},
            "body": result.encoded().decode()}


def for_asgi(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the native door reads it, for Mangum: the path it routes on (no stage, no base
    path), a header sent more than once as one comma-joined value (Mangum would join a REST API's
    with ", " and pass an ALB's twice), and the headers Mangum turns into the ASGI server tuple made
    safe: a Host whose port is not a number (`a:b`) keeps its name, a non-numeric x-forwarded-port is
    dropped (the native door never reads either; Mangum would raise on them, int('b'))."""
    fixed = dict(event)
    if event.get("version") == "2.0":  # Mangum reads these as an object and a string; null means none
        fixed["headers"] = event.get("headers") or {}
        fixed["rawQueryString"] = event.get("rawQueryString") or ""
        path = routed_path(event)  # Mangum routes on requestContext.http.path: the stage and base path go
        fixed["rawPath"] = path
        context = event.get("requestContext")
        if isinstance(context, dict) and isinstance(context.get("http"), dict):
            fixed["requestContext"] = {**context, "http": {**context["http"], "path": path}}
    elif isinstance(event.get("path"), str):
        fixed["path"] = routed_path(event)
    for key, lists in (("headers", False), ("multiValueHeaders", True)):
        headers = event.get(key)
        if not isinstance(headers, dict):
            continue
        clean = {}
        for name, value in headers.items():
            if lists and isinstance(value, list) and len(value) > 1:  # one value, joined as `header` reads it
                value = [",".join(v for v in value if isinstance(v, str))]
            first = value[0] if lists and isinstance(value, list) and value else value
            lower = name.lower()
            if lower == "x-forwarded-port" and not (isinstance(first, str) and first.isdigit()):
                continue
            if lower == "host" and isinstance(first, str) and ":" in first:
                host, _, port = first.rpartition(":")
                if not port.isdigit() or ":" in host:
                    first = first.split(":", 1)[0]
                    value = [first] if lists else first
            clean[name] = value
        fixed[key] = clean
    return fixed


def unsupported(problem: str) -> dict[str, Any]:
    """The 400 both doors answer to an event they cannot read, in the shape a proxy integration expects."""
    body = contract.error_body("unsupported_event", f"{UNSUPPORTED} ({problem})")
    return {"statusCode": 400, "headers": {"content-type": "application/json"},
            "body": contract.HttpResult(400, body).encoded().decode()}
