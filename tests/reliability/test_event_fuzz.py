"""Hostile and random Lambda events through both Lambda doors, in process: API Gateway REST (v1),
HTTP API (v2), ALB (single- and multi-value) and garbage. Every answer must be a well-formed proxy
response with a 2xx or 4xx status: no unhandled exception and no 5xx, whatever arrives."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prediction_core.training import TrainResult
from tests.events import FakeContext, load_event
from tests.live_doors import import_fresh, lambda_env
from tests.reliability.conftest import Figures, scale

EVENTS = scale(400, 10_000)
ROUTES = ["/predict", "/health", "/model", "/", "/predict/", "/PREDICT", "/prod/predict", "/a/../predict", "//predict"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "post", "", "G E T"]
text = st.text(max_size=40)
header_names = st.sampled_from(["content-type", "Content-Type", "x-request-id", "X-Request-Id", "host",
                                "x-forwarded-port", "cookie"]) | st.text(min_size=1, max_size=20)
header_values = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                                 "a:b", "x" * 10_000]) | text


def _json_bodies(instance: dict[str, Any]) -> st.SearchStrategy[str]:
    good = json.dumps({"instances": [instance]})
    nested = "[" * 5_000 + "]" * 5_000
    special = st.sampled_from([
        good, json.dumps({"instances": [instance] * 3}), '{"instances": [{"mean_radius": NaN}]}',
        '{"instances": [{"mean_radius": Infinity}]}', '{"instances": [], "instances": [1]}',
        '{"instances": [' + json.dumps(instance) + '], "instances": "x"}', nested, '{"instances": ' + nested + "}",
        "null", "[]", "{}", '"x"', "1e999", "\ud800", "{" * 100, '{"instances": [1e308, -1e308]}'])
    values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | text,
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                          max_leaves=20)
    mutated = st.builds(lambda k, v: json.dumps({"instances": [{**instance, k: v}]}, allow_nan=True),
                        st.sampled_from(list(instance)) | text, values)
    random = values.map(lambda v: json.dumps(v, allow_nan=True))
    return special | mutated | random | text


def _http_events(instance: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    headers = st.dictionaries(header_names, header_values, max_size=6)
    body = st.none() | _json_bodies(instance)

    def build(kind: str, method: str, path: str, hdrs: dict[str, str], payload: str | None, encode: str,
              query: dict[str, str]) -> dict[str, Any]:
        event = load_event(kind)
        if kind == "http-api-v2":
            event["rawPath"] = path
            event["requestContext"]["http"]["method"] = method
            event["headers"] = hdrs
            event["queryStringParameters"] = query or None
        else:
            event["httpMethod"] = method
            event["path"] = path
            event["headers"] = hdrs
            event["queryStringParameters"] = query or None
            if "multiValueHeaders" in event:
                event["multiValueHeaders"] = {k: [v, v] for k, v in hdrs.items()}
        if payload is None:
            event["body"], event["isBase64Encoded"] = None, False
        elif encode == "base64":
            event["body"], event["isBase64Encoded"] = base64.b64encode(payload.encode("utf-8", "surrogatepass")
                                                                       ).decode(), True
        elif encode == "broken-base64":
            event["body"], event["isBase64Encoded"] = payload + "*=", True
        else:
            event["body"], event["isBase64Encoded"] = payload, False
        return event

    return st.builds(build, st.sampled_from(["http-api-v2", "rest-api-v1", "alb"]),
                     st.sampled_from(METHODS) | text, st.sampled_from(ROUTES) | text, headers, body,
                     st.sampled_from(["plain", "base64", "broken-base64"]),
                     st.dictionaries(text, text, max_size=3))


garbage = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | text,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=5),
                       max_leaves=25)


def _damaged(event: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**event, key: value}


@pytest.fixture(scope="module")
def doors(logreg_bundle: TrainResult) -> Iterator[dict[str, Any]]:
    with lambda_env(logreg_bundle.bundle_dir, "onnx"):
        yield {"native": import_fresh("functions.predict.handler").handler,
               "asgi": import_fresh("functions.asgi.handler").handler}


def well_formed(response: Any) -> str | None:
    """Why this is not a proxy response a front door accepts with a 2xx/4xx status, or None."""
    if not isinstance(response, dict):
        return f"a {type(response).__name__}, not an object"
    status = response.get("statusCode")
    if not isinstance(status, int) or not (200 <= status < 300 or 400 <= status < 500):
        return f"statusCode {status!r}"
    if not isinstance(response.get("body"), str):
        return "body is not a string"
    for key in ("headers", "multiValueHeaders"):
        if key in response and not isinstance(response[key], dict):
            return f"{key} is not an object"
    try:
        json.loads(response["body"])
    except ValueError:
        return "body is not JSON"
    return None


def test_random_and_hostile_events_get_well_formed_2xx_or_4xx_answers(doors: dict[str, Any], figures: Figures,
                                                                       logreg_bundle: TrainResult) -> None:
    import prediction_core

    instance = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    template = load_event("http-api-v2")
    events = (_http_events(instance)
              | garbage
              | st.builds(_damaged, st.just(template), st.sampled_from(list(template)), garbage))
    tried = {"count": 0}
    problems: list[str] = []

    @settings(max_examples=EVENTS, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(events)
    def check(event: Any) -> None:
        tried["count"] += 1
        for name, handler in doors.items():
            try:
                problem = well_formed(handler(event, FakeContext()))
            except Exception as exc:  # the finding itself: an unhandled exception
                problem = f"raised {type(exc).__name__}: {exc}"
            if problem is not None:
                problems.append(f"{name}: {problem} for {json.dumps(event, default=str)[:300]}")

    check()
    figures.add("Lambda doors (in process)", "random and hostile events, both doors", tried["count"] * 2,
                len(problems), "REST v1, HTTP API v2, ALB and garbage (hypothesis)")
    assert tried["count"] >= EVENTS * 0.9
    assert problems == [], sorted({p.split(" for ")[0] for p in problems})
