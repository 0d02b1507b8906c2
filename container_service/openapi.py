"""OpenAPI for the service, generated from the loaded model's input schema, so clients (and
schemathesis) see the real feature names, types and ranges."""

from __future__ import annotations

from typing import Any

from prediction_core import MAX_INSTANCES, Predictor
from prediction_core.contract import DEFAULT_MAX_BODY_BYTES

_TYPES = {"number": "number", "integer": "integer", "boolean": "boolean", "string": "string"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["type", "message", "details"], "properties": {
        "type": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}}}},
}


GATEWAY_MESSAGE_SCHEMA = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def instance_schema(predictor: Predictor) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in predictor.schema.features:
        prop: dict[str, Any] = {"type": _TYPES[f.type]}
        if f.minimum is not None:
            prop["minimum"] = f.minimum
        if f.maximum is not None:
            prop["maximum"] = f.maximum
        if f.max_length is not None:
            prop["maxLength"] = f.max_length
        if f.categories is not None and f.unknown == "refuse":
            prop["enum"] = list(f.categories)
        if f.optional:  # left out or null: the pipeline imputes it
            prop = {"anyOf": [prop, {"type": "null"}]}
        props[f.name] = prop
    required = [f.name for f in predictor.schema.features if not f.optional]
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def predict_operation(predictor: Predictor, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """`openapi_extra` for POST /predict: the request body and every documented response."""
    prediction: dict[str, Any] = {"type": "object", "required": ["label", "probabilities"], "properties": {
        "label": {"type": "string", "enum": predictor.classes},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number"}}}}
    if predictor.task == "regression":
        prediction = {"type": "object", "required": ["value"], "properties": {"value": {"type": "number"}}}
    # Behind API Gateway a body over the limit never reaches the function: API Gateway answers the
    # 413 itself, with its own body, {"message": "Request Entity Too Large"}. Both shapes are documented.
    too_large: dict[str, Any] = {"anyOf": [ERROR_SCHEMA, GATEWAY_MESSAGE_SCHEMA]}
    errors = {str(code): {"description": text,
                          "content": {"application/json": {"schema": too_large if code == 413 else ERROR_SCHEMA}}}
              for code, text in [(400, "Malformed JSON or empty body"),
                                 (413, "Body over the payload limit (behind API Gateway, its own {\"message\"} body)"),
                                 (415, "Content-Type is not application/json"),
                                 (422, "Instances do not match the model's input schema")]}
    return {
        "summary": "Predict",
        "operationId": "predict",
        # Two limits apply: at most MAX_INSTANCES rows, and a body of at most the payload limit
        # (Lambda's 6 MB, which every door applies). For wide rows the body limit comes first, so
        # both are stated; a generated client can check the second with x-max-body-bytes.
        "requestBody": {"required": True, "x-max-body-bytes": max_body_bytes,
                        "description": f"At most {MAX_INSTANCES:,} instances and at most {max_body_bytes:,} bytes "
                                       "of body (413 past it), whichever comes first.",
                        "content": {"application/json": {"schema": {
            "type": "object", "required": ["instances"], "additionalProperties": False,
            "properties": {"instances": {"type": "array", "minItems": 1, "maxItems": MAX_INSTANCES,
                                         "items": instance_schema(predictor)}}}}}},
        "responses": {"200": {"description": "One prediction per instance", "content": {"application/json": {
            "schema": {"type": "object", "required": ["predictions", "model"], "properties": {
                "predictions": {"type": "array", "items": prediction},
                "model": {"type": "object"}}}}}}, **errors},
    }
