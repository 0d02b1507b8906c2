"""The HTTP contract every door speaks: request body in, response body or error body out.

Doors parse transport (HTTP, API Gateway events, CLI input) into a decoded JSON value and call
`predict_body`; they map TwinserveError subclasses to status codes with `error_status`.
"""

from __future__ import annotations

from typing import Any

from prediction_core.exceptions import (
    BundleError,
    InvalidInstancesError,
    TwinserveError,
)
from prediction_core.predictor import Predictor

REQUEST_KEYS = frozenset({"instances"})


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
        "classes": predictor.classes,
        "input_schema": m["input_schema"],
        "metrics": m.get("metrics"),
        "created_at": m.get("created_at"),
    }


def error_body(error_type: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape: {"error": {"type", "message", "details"}}."""
    return {"error": {"type": error_type, "message": message, "details": details if details is not None else []}}


def error_from_exception(exc: TwinserveError) -> dict[str, Any]:
    return error_body(exc.error_type, exc.message, exc.details)


def error_status(exc: TwinserveError) -> int:
    """HTTP status for a core error: bad input is 422, a broken bundle is the server's fault (500)."""
    if isinstance(exc, InvalidInstancesError):
        return 422
    if isinstance(exc, BundleError):
        return 500
    return 400
