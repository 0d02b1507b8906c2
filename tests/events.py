"""Captured Lambda event shapes (tests/events/*.json) filled in for one HTTP request."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "events"
EVENT_FILES = {"http-api-v2": "apigw_http_v2.json", "rest-api-v1": "apigw_rest_v1.json", "alb": "alb.json"}


@dataclass
class FakeContext:
    """The attributes of the Lambda context object the handlers read (the AWS boundary)."""

    aws_request_id: str = "8f507cfc-0000-4697-b07a-ac58fc914c95"
    function_name: str = "twinserve-predict"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:twinserve-predict"
    log_group_name: str = "/aws/lambda/twinserve-predict"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


def load_event(kind: str) -> dict[str, Any]:
    return json.loads((EVENTS / EVENT_FILES[kind]).read_text())


def make_event(kind: str, method: str, path: str, body: bytes | None, headers: dict[str, str],
               *, base64_body: bool = False) -> dict[str, Any]:
    event = copy.deepcopy(load_event(kind))
    if kind == "http-api-v2":
        event["rawPath"] = path
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event["headers"] = {k.lower(): v for k, v in headers.items()}
    else:
        event["httpMethod"] = method
        event["path"] = path
        event["headers"] = dict(headers)
        if "multiValueHeaders" in event:
            event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        if kind == "rest-api-v1":
            event["requestContext"]["httpMethod"] = method
            event["requestContext"]["path"] = "/prod" + path
            event["pathParameters"] = {"proxy": path.lstrip("/")}
    if body is not None and not base64_body:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            base64_body = True  # API Gateway and ALB base64-encode bodies that are not UTF-8 text
    if body is None:
        event["body"] = None
    elif base64_body:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body.decode("utf-8")
        event["isBase64Encoded"] = False
    return event


def response_parts(response: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """(status, lower-cased headers, decoded JSON body) of a Lambda proxy response."""
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for k, v in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), v[0])
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], headers, json.loads(body) if body else None
