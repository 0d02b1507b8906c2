"""Direct invocations that are not HTTP events get the contract's 400 `unsupported_event` from both
Lambda doors, with the same body, never an unhandled error (issue #20, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from prediction_core.training import TrainResult
from tests.events import FakeContext, make_event
from tests.live_doors import import_fresh, lambda_env


@pytest.fixture(scope="module")
def handlers(logreg_bundle: TrainResult) -> Iterator[dict[str, Any]]:
    with lambda_env(logreg_bundle.bundle_dir, "onnx"):
        yield {"native": import_fresh("functions.predict.handler").handler,
               "asgi": import_fresh("functions.asgi.handler").handler}


def _v2(**changes: Any) -> dict[str, Any]:
    event = make_event("http-api-v2", "POST", "/predict", b'{"instances": []}', {"content-type": "application/json"})
    event.update(changes)
    return event


def _v1(**changes: Any) -> dict[str, Any]:
    event = make_event("rest-api-v1", "GET", "/health", None, {})
    event.update(changes)
    return event


MALFORMED = {
    "a list": [1, 2, 3],
    "a string": "hello",
    "null": None,
    "an empty object": {},
    "headers not an object": _v2(headers=["content-type"]),
    "a header value not a string": _v2(headers={"content-type": 7}),
    "a method not a string": _v1(httpMethod=["GET"]),
    "no path": {k: v for k, v in _v1().items() if k != "path"},
    "v2 without its method": _v2(requestContext={"http": {}}),
    "requestContext not an object": _v2(requestContext="x"),
    "a body not a string": _v2(body={"instances": []}),
    "multi-value headers of numbers": _v1(multiValueHeaders={"x-request-id": [1, 2]}),
    # found by the reliability suite's event fuzzer (tests/reliability/test_event_fuzz.py)
    "a lone surrogate in the body": _v2(body="\ud800"),
    "a lone surrogate in a header": _v1(headers={"x-request-id": "\udfff"}),
    "rawQueryString not a string": _v2(rawQueryString={"a": 1}),
    "requestContext.http.path not a string": _v2(requestContext={"http": {"method": "GET", "path": 1}}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_both_doors_answer_400_unsupported_event_alike(handlers: dict[str, Any], name: str) -> None:
    answers = {}
    for door, handler in handlers.items():
        response = handler(MALFORMED[name], FakeContext())
        assert response["statusCode"] == 400, (door, response)
        answers[door] = json.loads(response["body"])
    assert answers["native"] == answers["asgi"]
    assert answers["native"]["error"]["type"] == "unsupported_event"


def test_well_formed_events_still_reach_the_routes(handlers: dict[str, Any]) -> None:
    for handler in handlers.values():
        assert handler(_v1(), FakeContext())["statusCode"] == 200


def _alb(**headers: str) -> dict[str, Any]:
    return make_event("alb", "GET", "/health", None, headers)


GATEWAY_SHAPED = {
    "base64 garbage on /predict": _v2(isBase64Encoded=True, body="%%% not base64 %%%"),
    "base64 garbage on an unknown path": _v1(isBase64Encoded=True, body="@@@", path="/nope", httpMethod="POST"),
    "Host a:b through an ALB": _alb(host="a:b"),
    "a non-numeric x-forwarded-port through an ALB": _alb(**{"x-forwarded-port": "eighty"}),
    "Host [ on an unknown path": make_event("http-api-v2", "GET", "/nope", None, {"host": "["}),
    "Host with two colons": _alb(host="a:1:2"),
}


@pytest.mark.parametrize("name", list(GATEWAY_SHAPED))
def test_gateway_shaped_events_get_the_same_answer_from_both_doors(handlers: dict[str, Any], name: str) -> None:
    answers = {}
    for door, handler in handlers.items():
        response = handler(GATEWAY_SHAPED[name], FakeContext())
        answers[door] = (response["statusCode"], json.loads(response["body"]))
    assert answers["native"] == answers["asgi"], answers
    assert answers["native"][0] < 500
