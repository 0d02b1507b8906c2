"""Native Lambda door: API Gateway HTTP API (v2), REST API (v1), function URL and ALB events.

The model is loaded once, at INIT, from the bundle shipped next to this file (MODEL_BUNDLE) or
from S3 (MODEL_URI). Logging and metrics are Powertools' (Logger, Metrics with EMF); routing is
the event sources in `sources.py` and a table of three routes, because Powertools' event_handler
package costs about 70 ms of every cold start. Status codes and bodies come from the shared
contract, so this door answers exactly as the container does.
"""

from __future__ import annotations

import time

_INIT_START = time.perf_counter()  # before the heavy imports: the INIT anatomy starts here

import base64  # noqa: E402 - the timer above must run first
import os  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Protocol  # noqa: E402

from aws_lambda_powertools import Logger, Metrics  # noqa: E402
from aws_lambda_powertools.metrics import MetricUnit  # noqa: E402

from functions import events  # noqa: E402
from functions.predict import sources  # noqa: E402
from prediction_core import contract  # noqa: E402
from prediction_core.sources import load_configured  # noqa: E402

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "twinserve")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "twinserve"), service=SERVICE)
_IMPORTS_MS = (time.perf_counter() - _INIT_START) * 1000.0


class LambdaContext(Protocol):
    aws_request_id: str
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str


def _s3_client() -> Any:
    import boto3  # only when MODEL_URI is set: boto3 costs INIT time otherwise

    return boto3.client("s3")


PREDICTOR = load_configured(
    bundle=os.environ.get("MODEL_BUNDLE", str(Path(__file__).resolve().parent.parent.parent / "model")),
    model_uri=os.environ.get("MODEL_URI") or None,
    runtime=os.environ.get("MODEL_RUNTIME", "onnx"),
    s3_client_factory=_s3_client,
)
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", contract.DEFAULT_MAX_BODY_BYTES))
# What INIT was made of, measured here in this environment; published once, on the first invocation.
INIT_BREAKDOWN_MS = {
    "HandlerImportMs": _IMPORTS_MS,
    "RuntimeImportMs": PREDICTOR.timings.runtime_import_ms,
    "ModelVerifyMs": PREDICTOR.timings.verify_ms,
    "ModelLoadMs": PREDICTOR.timings.model_load_ms,
    "FirstPredictMs": PREDICTOR.timings.first_predict_ms or 0.0,
    "InitTotalMs": (time.perf_counter() - _INIT_START) * 1000.0,
}
logger.append_keys(model_name=PREDICTOR.name, model_version=PREDICTOR.version, model_runtime=PREDICTOR.runtime)
_first_invocation = True


def _raw_body(event: Any) -> bytes | None:
    body = event.get("body")
    if body is None:
        return None
    if event.get("isBase64Encoded"):  # checked before routing (events.base64_problem)
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8") if isinstance(body, str) else body


_header = events.header


def _predict(event: dict[str, Any], request_id: str) -> contract.HttpResult:
    start = time.perf_counter()
    result = contract.handle_predict(PREDICTOR, body=_raw_body(event), content_type=_header(event, "content-type"),
                                     request_id=request_id, max_body_bytes=MAX_BODY_BYTES)
    if result.status == 200:
        metrics.add_metric(name="PredictLatency", unit=MetricUnit.Milliseconds,
                           value=(time.perf_counter() - start) * 1000.0)
        metrics.add_metric(name="Instances", unit=MetricUnit.Count, value=len(result.body["predictions"]))
    return result


# (method, path) -> answer; the contract's ROUTES lists the same three.
ROUTES: dict[tuple[str, str], Callable[[dict[str, Any], str], contract.HttpResult]] = {
    ("POST", "/predict"): _predict,
    ("GET", "/health"): lambda event, rid: contract.handle_health(PREDICTOR),
    ("GET", "/model"): lambda event, rid: contract.handle_model(PREDICTOR),
}


def _request_id(event: dict[str, Any], context: LambdaContext) -> str:
    """The caller's x-request-id when sane, else the Lambda request id."""
    return contract.new_request_id(_header(event, contract.REQUEST_ID_HEADER) or context.aws_request_id)


def _resolve(source: sources.EventSource, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Route one HTTP event and shape the answer for its source; anything unexpected is the contract's 500."""
    rid = _request_id(event, context)
    method, path = source.method(event), source.path(event)
    route = ROUTES.get((method.upper(), path))
    try:
        result = route(event, rid) if route is not None else contract.handle_unmatched(method, path)
    except Exception:
        result = contract.internal_error(rid)
    headers = {**result.headers, contract.REQUEST_ID_HEADER: rid, "Content-Type": "application/json"}
    return source.response(event, result.status, headers, result.encoded().decode("utf-8"))


def _publish_init_metrics() -> None:
    global _first_invocation
    if not _first_invocation:
        return
    _first_invocation = False
    for name, value in INIT_BREAKDOWN_MS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _publish_init_metrics()
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    problem = events.shape_problem(event)
    if problem is None:
        bad_base64 = events.base64_problem(event)
        if bad_base64 is not None:
            return events.malformed_base64(bad_base64, _request_id(event, context))
        source = sources.source_for(event)
        if source is not None:
            return _resolve(source, event, context)
        problem = "no event source accepted it"
    logger.warning("unsupported event", extra={"problem": problem})
    return events.unsupported(problem)
