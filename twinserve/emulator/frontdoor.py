"""The emulator's front doors on one port.

- Front door emulation: any HTTP request becomes the event its front door hands Lambda: an API
  Gateway HTTP API payload v2.0 event (`event_format="http"`), a REST API v1 event ("rest"), a
  function URL event ("url", payload v2.0 without a stage) or an ALB event ("alb"); the function's
  response becomes the HTTP response, with what that front door answers for throttles, errors,
  timeouts and sizes (behind an ALB, Lambda's request and response limit is 1 MB).
- Lambda Invoke API: POST /2015-03-31/functions/{name}/invocations, so
  boto3.client("lambda", endpoint_url=...).invoke(...) works against the emulator.

Responses carry `x-emulator-*` headers (cold, environment, init and duration ms) for the harness.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import time
import urllib.parse
from typing import Any

import orjson

from prediction_core.aws_limits import DOOR_LIMITS
from twinserve.emulator.async_queue import AsyncPolicy, AsyncQueue
from twinserve.emulator.config import ACCOUNT_ID, SYNC_PAYLOAD_LIMIT_BYTES, InvokeOutcome
from twinserve.emulator.httpserver import Request, Response
from twinserve.emulator.service import LambdaService

INVOKE_PREFIX = "/2015-03-31/functions/"
QUALIFIERS = ("$LATEST", "live")  # the emulator runs $LATEST; `live` is the alias the stacks deploy
ADMIN_PREFIX = "/_emulator/"
# How long each front door waits for the function: API Gateway's integration timeout (HTTP API 30 s,
# fixed; REST API 29 s by default); a function URL waits for the function's own timeout (900 s at
# most); an ALB for its idle timeout (60 s by default).
INTEGRATION_TIMEOUT_S = {"http": 30.0, "rest": 29.0, "url": 900.0, "alb": 60.0}
ALB_PAYLOAD_LIMIT_BYTES = DOOR_LIMITS["alb"].bytes  # prediction_core/data/aws-limits.json
# What each front door answers when Lambda throttles the invocation, or the function fails: behind
# an HTTP API a Lambda throttle is an integration failure (500), behind a REST API a 502, a function
# URL passes Lambda's 429 on, an ALB answers 503 (its access logs name the cause LambdaThrottling).
# The client sees these, and the harness counts what the client sees: only a 429 is a throttle to
# it. `x-emulator-throttled` tells the emulator's own harness which answers were throttles.
THROTTLED_STATUS = {"http": 500, "rest": 502, "url": 429, "alb": 503}
FUNCTION_ERROR_STATUS = {"http": 500, "rest": 502, "url": 502, "alb": 502}
TIMEOUT_STATUS = {"http": 503, "rest": 504, "url": 502, "alb": 504}
STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
               405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
               422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
JSON = "application/json"
ACCOUNT_REGION = "us-east-1"


def _json(status: int, body: dict[str, Any], **headers: str) -> Response:
    return Response(status, json.dumps(body).encode(), {"content-type": JSON, **headers})


class FrontDoor:
    def __init__(self, service: LambdaService, *, event_format: str = "http",
                 integration_timeout_s: float | None = None, async_policy: AsyncPolicy | None = None) -> None:
        if event_format not in INTEGRATION_TIMEOUT_S:
            raise ValueError(f"event format {event_format!r} is not one of {', '.join(INTEGRATION_TIMEOUT_S)}")
        self.service = service
        self.event_format = event_format
        self.integration_timeout_s = integration_timeout_s or INTEGRATION_TIMEOUT_S[event_format]
        self.async_queue = AsyncQueue(service, async_policy)

    async def handle(self, req: Request) -> Response:
        if req.path.startswith(INVOKE_PREFIX):
            return await self._invoke_api(req)
        if req.path.startswith(ADMIN_PREFIX):
            return await self._admin(req)
        return await self._api_gateway(req)

    # --- for the harness: the log (as CloudWatch would hold it), settings, forced cold starts ----
    async def _admin(self, req: Request) -> Response:
        service = self.service
        if req.method == "GET" and req.path == ADMIN_PREFIX + "logs":
            raw = dict(p.partition("=")[::2] for p in req.query.split("&") if p).get("after", "0") or "0"
            if not raw.isdigit():
                return _json(400, {"message": f"after must be a line number (0 or more), got {raw[:40]!r}"})
            lines, cursor = service.logs.since(int(raw))
            return _json(200, {"next": cursor, "lines": lines})
        if req.method == "GET" and req.path == ADMIN_PREFIX + "info":
            return _json(200, {**service.describe(), "counters": dict(service.counters),
                               "async": dict(self.async_queue.counters), "environments": service.pool.snapshot()})
        if req.method == "POST" and req.path == ADMIN_PREFIX + "reset":
            dropped = await service.pool.drop_idle()
            return _json(200, {"dropped": dropped})
        return _json(404, {"message": f"no admin route {req.method} {req.path}"})

    # --- API Gateway -------------------------------------------------------------------------
    async def _api_gateway(self, req: Request) -> Response:
        response = await self._front_door(req)
        if req.method == "HEAD":  # the answer's headers, never a body
            return Response(response.status, b"", response.headers, response.after_write)
        return response

    async def _front_door(self, req: Request) -> Response:
        if req.too_large is not None or len(req.body) > DOOR_LIMITS[self.event_format].bytes:
            return _json(413, {"message": "Request Entity Too Large"},
                         **{"x-amzn-errortype": "RequestEntityTooLargeException"})
        payload = orjson.dumps(api_gateway_event(req, self.event_format))
        if self.service.config.timeout_s < self.integration_timeout_s:
            # The function's own timeout ends the call first: no API Gateway timer is needed.
            return self._proxy_response(await self.service.invoke(payload))
        task = asyncio.ensure_future(self.service.invoke(payload))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), timeout=self.integration_timeout_s)
        except TimeoutError:
            # The front door gives up; the invocation itself runs on to its own timeout, as on AWS.
            status = TIMEOUT_STATUS[self.event_format]
            return _json(status, {"message": STATUS_TEXT[status]}, **{"x-emulator-limit": "integration-timeout"})
        return self._proxy_response(outcome)

    def _proxy_response(self, outcome: InvokeOutcome) -> Response:
        debug = _debug_headers(outcome)
        if outcome.status == "throttled":
            status = THROTTLED_STATUS[self.event_format]
            return _json(status, {"message": STATUS_TEXT[status]}, **debug)
        if outcome.status == "too_large":
            return _json(413, {"message": "Request Entity Too Large"}, **debug)
        if outcome.status == "function_error":
            # HTTP API answers 500 for a failed invocation; REST API, function URLs and ALBs 502.
            status = FUNCTION_ERROR_STATUS[self.event_format]
            return _json(status, {"message": STATUS_TEXT[status]}, **debug)
        if self.event_format == "alb" and len(outcome.payload) > ALB_PAYLOAD_LIMIT_BYTES:
            return _json(502, {"message": STATUS_TEXT[502]}, **{**debug, "x-emulator-limit": "alb-response-1mb"})
        result = _loads(outcome.payload)
        if not isinstance(result, dict) or "statusCode" not in result:
            if self.event_format in ("http", "url"):  # payload v2 infers a 200 JSON response
                return Response(200, outcome.payload, {"content-type": JSON, **debug})
            return _json(502, {"message": "Internal server error"}, **debug)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers.setdefault(k.lower(), ", ".join(map(str, values)))
        headers.pop("content-length", None)
        return Response(int(result["statusCode"]), raw, {**headers, **debug})

    # --- Invoke API --------------------------------------------------------------------------
    async def _invoke_api(self, req: Request) -> Response:
        """The Invoke API as AWS answers it: the function by name, ARN or partial ARN, with or without
        a qualifier (`$LATEST`, or `live`: the alias the stacks deploy); a payload that is not JSON is
        400 InvalidRequestContentException; `Event` invocations are queued with the retry policy and
        their own 1 MB limit."""
        if req.method != "POST" or not req.path.endswith("/invocations"):
            return _json(404, {"Type": "User", "message": f"Unknown operation {req.method} {req.path}"},
                         **{"x-amzn-errortype": "UnknownOperationException"})
        target = urllib.parse.unquote(req.path[len(INVOKE_PREFIX):].split("/", 1)[0])
        query = urllib.parse.parse_qs(req.query)
        qualifiers = query.get("Qualifier") or []
        problem = self._function_problem(target, qualifiers[0] if qualifiers else None)
        if problem is not None:
            return problem
        invocation_type = req.headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return _invalid(f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                            "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                            "ValidationException")
        limit = DOOR_LIMITS["event"].bytes if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT_BYTES
        if req.too_large is not None or len(req.body) > limit:
            size = req.too_large or len(req.body)
            return _json(413, {"Type": "User", "message": f"{size} byte payload is too large for the "
                                                        f"{invocation_type} invocation type (limit {limit} bytes)"},
                         **{"x-amzn-errortype": "RequestTooLargeException"})  # the Invoke API's name for it
        if req.body and not _is_json(req.body):
            return _invalid("Could not parse request body into json: Could not parse payload into json: "
                            "Unexpected character", "InvalidRequestContentException")
        client_context = req.headers.get("x-amz-client-context")
        if client_context:
            try:
                client_context = base64.b64decode(client_context, validate=True).decode("utf-8")
                json.loads(client_context)
            except ValueError:
                return _invalid("Client context must be a valid Base64-encoded JSON object.",
                                "InvalidRequestContentException")
        if invocation_type == "DryRun":
            return Response(204)
        if invocation_type == "Event":
            event_id = self.async_queue.submit(req.body or b"{}", client_context)
            return Response(202, b"", {"x-amzn-requestid": event_id})
        outcome = await self.service.invoke(req.body or b"{}", client_context=client_context)
        headers = {"content-type": JSON, "x-amzn-requestid": outcome.request_id, "x-amz-executed-version": "$LATEST",
                   **_debug_headers(outcome)}
        if outcome.status == "throttled":
            return _json(429, {"Type": "User", "message": "Rate Exceeded.",
                               "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
                         **{"x-amzn-errortype": "TooManyRequestsException"})
        if outcome.function_error:
            headers["x-amz-function-error"] = "Unhandled"
        if req.headers.get("x-amz-log-type") == "Tail":
            tail = "\n".join(outcome.logs).encode()[-4096:]
            headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        return Response(200, outcome.payload, headers)

    def _function_problem(self, target: str, qualifier: str | None) -> Response | None:
        """None when `target` (+ `qualifier`) names this function: `predict`, `predict:live`,
        `123456789012:function:predict`, `arn:aws:lambda:REGION:123456789012:function:predict[:live]`."""
        cfg = self.service.config
        name = target
        if name.startswith("arn:"):
            parts = name.split(":")
            name = ":".join(parts[6:]) if len(parts) >= 7 and parts[5] == "function" and parts[4] == ACCOUNT_ID \
                and parts[3] == cfg.region else ""
        elif name.count(":") >= 2 and name.split(":")[1] == "function":
            name = ":".join(name.split(":")[2:]) if name.split(":")[0] == ACCOUNT_ID else ""
        name, _, suffix = name.partition(":")
        if suffix and qualifier and suffix != qualifier:
            return _invalid("The derived qualifier from the function name does not match the specified qualifier.",
                            "InvalidParameterValueException")
        qualifier = qualifier or suffix or None
        if name != cfg.function_name or (qualifier is not None and qualifier not in QUALIFIERS):
            prefix = cfg.function_arn[:-len(cfg.function_name)]
            shown = prefix + (name or target) + (f":{qualifier}" if qualifier else "")
            return _json(404, {"Type": "User", "message": f"Function not found: {shown}"},
                         **{"x-amzn-errortype": "ResourceNotFoundException"})
        return None


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Every value of each name, in order."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _invalid(message: str, error_type: str) -> Response:
    return _json(400, {"Type": "User", "message": message}, **{"x-amzn-errortype": error_type})


def api_gateway_event(req: Request, event_format: str) -> dict[str, Any]:
    """An HTTP request as its front door hands it to Lambda: HTTP API payload v2.0, REST API v1, a
    function URL's payload v2.0, or an ALB's event."""
    try:
        body: str | None = req.body.decode("utf-8") if req.body else None
        is_b64 = False
    except UnicodeDecodeError:
        body, is_b64 = base64.b64encode(req.body).decode(), True
    epoch_s = time.time()
    request_id = os.urandom(8).hex()
    source_ip = "127.0.0.1"
    # API Gateway decodes the query string (an HTTP API joins repeated names with commas; a REST
    # API keeps the last, and all in multiValueQueryStringParameters); an ALB passes it undecoded.
    multi_query = _grouped([(k, v) for k, _, v in (p.partition("=") for p in req.query.split("&") if p)]
                           if event_format == "alb" else urllib.parse.parse_qsl(req.query, keep_blank_values=True))
    if event_format in ("http", "url"):
        context = {
            "accountId": ACCOUNT_ID, "apiId": "local", "domainName": req.headers.get("host", "localhost"),
            "domainPrefix": "local", "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": _request_time(int(epoch_s)), "timeEpoch": int(epoch_s * 1000),
            "http": {"method": req.method, "path": req.path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": req.headers.get("user-agent", "")}}
        if event_format == "url":  # a function URL's event has no stage, and names the URL's domain
            del context["stage"]
            context.update(apiId="local", domainName=f"local.lambda-url.{ACCOUNT_REGION}.on.aws")
        headers = dict(req.headers)
        cookie = headers.pop("cookie", None)  # payload 2.0 moves cookies to their own field
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": "$default", "rawPath": req.path, "rawQueryString": req.query,
            "headers": headers, "requestContext": context, "body": body, "isBase64Encoded": is_b64,
        }
        if multi_query:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in multi_query.items()}
        if cookie:
            event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
        return event
    multi_headers = _grouped(req.header_pairs or list(req.headers.items()))  # v1 events: every value
    if event_format == "alb":
        return {
            "requestContext": {"elb": {"targetGroupArn": f"arn:aws:elasticloadbalancing:{ACCOUNT_REGION}:"
                                                         f"{ACCOUNT_ID}:targetgroup/local/0123456789abcdef"}},
            "httpMethod": req.method, "path": req.path,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()},
            "headers": {k: v[-1] for k, v in multi_headers.items()}, "body": body or "", "isBase64Encoded": is_b64,
        }
    return {
        "resource": "/{proxy+}", "path": req.path, "httpMethod": req.method,
        "headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": req.path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"accountId": ACCOUNT_ID, "apiId": "local", "httpMethod": req.method,
                           "path": "/prod" + req.path, "protocol": "HTTP/1.1", "requestId": request_id,
                           "resourcePath": "/{proxy+}", "stage": "prod",
                           "identity": {"sourceIp": source_ip, "userAgent": req.headers.get("user-agent", "")}},
        "body": body, "isBase64Encoded": is_b64,
    }


@functools.lru_cache(maxsize=4)
def _request_time(epoch_s: int) -> str:
    """requestContext.time as API Gateway writes it (one formatting per second, not per request)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_s))


def _loads(payload: bytes) -> Any:
    """The function's JSON result, or None. orjson first; json for what only it accepts (NaN, huge ints)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(payload)
        except ValueError:
            return None


def _debug_headers(outcome: InvokeOutcome) -> dict[str, str]:
    if outcome.status == "throttled":  # never invoked: no environment, no REPORT line to join
        return {"x-emulator-throttled": "true", "x-emulator-at": f"{time.time():.6f}"}
    headers = {"x-emulator-request-id": outcome.request_id, "x-emulator-cold": str(outcome.cold).lower()}
    if outcome.env_id:
        headers["x-emulator-env"] = outcome.env_id
    if outcome.init_ms is not None:
        headers["x-emulator-init-ms"] = f"{outcome.init_ms:.3f}"
    if outcome.duration_ms is not None:
        headers["x-emulator-duration-ms"] = f"{outcome.duration_ms:.3f}"
    if outcome.function_error:
        headers["x-emulator-function-error"] = outcome.function_error
    if outcome.metrics:
        headers["x-emulator-metrics"] = json.dumps(outcome.metrics, separators=(",", ":"))
    headers["x-emulator-at"] = f"{time.time():.6f}"
    return headers
