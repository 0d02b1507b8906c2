"""The HTTP contract every door speaks, written once and free of any web framework.

Doors (Powertools on Lambda, FastAPI in the container and on Lambda via Mangum, the CLI) only
route and transport; status codes, bodies and error shapes come from here, so the same request
gives the same answer through every door.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import orjson

from prediction_core.aws_limits import LAMBDA
from prediction_core.exceptions import BundleError, InvalidInstancesError, TwinserveError
from prediction_core.predictor import Predictor

logger = logging.getLogger("twinserve.contract")

# Lambda's synchronous invocation limit (6 MB request and response), applied by every door so the
# container refuses exactly what Lambda would. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
DEFAULT_MAX_BODY_BYTES = LAMBDA.sync_payload_bytes
REQUEST_KEYS = frozenset({"instances"})
REQUEST_ID_HEADER = "x-request-id"
# path -> allowed methods; an unmatched request is 405 for a known path and 404 otherwise.
ROUTES: dict[str, tuple[str, ...]] = {"/predict": ("POST",), "/health": ("GET",), "/model": ("GET",)}


@dataclass(slots=True)
class HttpResult:
    """What a door sends back: status, a JSON-ready body, and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return orjson.dumps(self.body)


# Generated ids: a random per-process prefix and a counter, unique without a uuid4 per request
# (and without importing uuid, which costs a Lambda cold start about 5 ms).
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id(incoming: str | None = None) -> str:
    """Use the caller's id (header or Lambda request id) when it is sane, else make one."""
    if incoming and len(incoming) <= 200 and incoming.isprintable():
        return incoming
    return f"{_ID_PREFIX}-{next(_ID_COUNTER)}"


def error_body(error_type: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape: {"error": {"type", "message", "details"}}."""
    return {"error": {"type": error_type, "message": message, "details": details if details is not None else []}}


def error_result(status: int, error_type: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> HttpResult:
    return HttpResult(status, error_body(error_type, message, details), headers or {})


def parse_request(payload: Any) -> list[Any]:
    """Return the instances list from a decoded request body, or raise a validation error."""
    if not isinstance(payload, dict):
        raise InvalidInstancesError(
            'request body must be a JSON object like {"instances": [...]}',
            details=[{"loc": [], "type": "type_error", "message": "expected an object"}],
        )
    if "instances" not in payload:
        raise InvalidInstancesError("request body has no 'instances' field",
                                    details=[{"loc": ["instances"], "type": "missing", "message": "field required"}])
    extra = sorted(set(payload) - REQUEST_KEYS)
    if extra:
        raise InvalidInstancesError(
            f"unknown top-level field {extra[0]!r}; the body takes only 'instances'",
            details=[{"loc": [k], "type": "unknown_field", "message": "unknown field"} for k in extra],
        )
    instances: list[Any] = payload["instances"]
    return instances


def predict_body(predictor: Predictor, payload: Any) -> dict[str, Any]:
    """Decoded request body -> response body. Raises InvalidInstancesError on bad input."""
    predictions = predictor.predict(parse_request(payload))
    return {"predictions": predictions, "model": predictor.model_info}


def model_body(predictor: Predictor) -> dict[str, Any]:
    """GET /model: the manifest summary a client needs to build requests."""
    m = predictor.manifest
    return {
        "name": predictor.name,
        "version": predictor.version,
        "runtime": predictor.runtime,
        "task": predictor.task,
        "classes": predictor.classes,
        "input_schema": m["input_schema"],
        "metrics": m.get("metrics"),
        "created_at": m.get("created_at"),
    }


def error_status(exc: TwinserveError) -> int:
    """HTTP status for a core error: bad input is 422, a broken bundle is the server's fault (500)."""
    if isinstance(exc, InvalidInstancesError):
        return 422
    if isinstance(exc, BundleError):
        return 500
    return 400


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def handle_predict(predictor: Predictor, *, body: bytes | None, content_type: str | None, request_id: str,
                   max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> HttpResult:
    """POST /predict, checked in the order a client can act on: size, type, emptiness, JSON, schema."""
    size = len(body or b"")
    if size > max_body_bytes:
        return payload_too_large(size, max_body_bytes)
    if not _is_json(content_type):
        return error_result(415, "unsupported_media_type",
                            f"Content-Type must be application/json, got {content_type or 'none'!r}")
    if not body or body.isspace():
        return error_result(400, "empty_body", 'request body is empty; send {"instances": [...]}')
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return error_result(400, "malformed_json", f"request body is not valid JSON: {exc}")
    try:
        return HttpResult(200, predict_body(predictor, payload))
    except InvalidInstancesError as exc:
        return error_result(422, exc.error_type, exc.message, exc.details)
    except TwinserveError as exc:
        return error_result(error_status(exc), exc.error_type, exc.message, exc.details)
    except Exception:
        return internal_error(request_id)


def payload_too_large(size_bytes: int, limit_bytes: int) -> HttpResult:
    return error_result(413, "payload_too_large",
                        f"request body is {size_bytes:,} bytes; the limit is {limit_bytes:,} bytes "
                        "(Lambda's 6 MB synchronous payload limit)",
                        [{"limit_bytes": limit_bytes, "size_bytes": size_bytes}])


def internal_error(request_id: str) -> HttpResult:
    """500 for anything unexpected: logged with its traceback, reported with the request id only."""
    logger.exception("unexpected error while handling request %s", request_id)
    return error_result(500, "internal_error", f"unexpected server error; quote request id {request_id}",
                        [{"request_id": request_id}])


def handle_health(predictor: Predictor | None) -> HttpResult:
    if predictor is None:
        return error_result(503, "model_not_loaded", "the model is not loaded")
    return HttpResult(200, {"status": "ok", "model": predictor.model_info})


def handle_model(predictor: Predictor) -> HttpResult:
    return HttpResult(200, model_body(predictor))


def handle_unmatched(method: str, path: str) -> HttpResult:
    """404 for an unknown path, 405 (with Allow) for a known path and another method."""
    allowed = ROUTES.get(path)
    if allowed is None:
        return error_result(404, "not_found", f"no route {path!r}; routes are {', '.join(sorted(ROUTES))}")
    return error_result(405, "method_not_allowed", f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                        headers={"allow": ", ".join(allowed)})
