"""Replay of every event shape AWS sends an HTTP function, through both Lambda doors.

The fixtures in tests/events/replay/ follow the shapes of AWS's published samples (the Lambda and
API Gateway developer guides, Powertools' and aws-lambda-go's test events), with our own values:
REST API (v1) directly and through a custom domain's base path mapping; HTTP API (v2) on the
`$default` stage, on a named stage and through a custom domain; a function URL (v2 without a
stage); an ALB with single-value and with multi-value headers. Each carries the same request, a
duplicated X-Request-Id among its headers. Both doors must answer each with the same status and
body, in the response shape that source requires."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prediction_core.training import TrainResult
from tests.events import FakeContext
from tests.live_doors import import_fresh, lambda_env

REPLAY = Path(__file__).resolve().parents[1] / "events" / "replay"
FIXTURES = sorted(p.name for p in REPLAY.glob("*.json"))
BASE_PATH = "/ml"  # the custom-domain fixtures' base path mapping


@pytest.fixture(scope="module")
def doors(logreg_bundle: TrainResult) -> Iterator[dict[str, Any]]:
    with lambda_env(logreg_bundle.bundle_dir, "onnx"):
        import functions.events

        native = import_fresh("functions.predict.handler")
        asgi = import_fresh("functions.asgi.handler")
        before, functions.events.BASE_PATH = functions.events.BASE_PATH, BASE_PATH
        try:
            yield {"native": native.handler, "asgi": asgi.handler}
        finally:
            functions.events.BASE_PATH = before


def event(name: str, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPLAY / name).read_text())
    data["body"] = json.dumps(body)
    return data


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    """Single- and multi-value headers together (a proxy response may use both)."""
    merged = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    merged.update({k.lower(): ",".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()})
    return merged


def test_every_fixture_is_a_distinct_source_shape() -> None:
    assert FIXTURES == ["alb_multi_value.json", "alb_single_value.json", "function_url.json",
                        "http_api_custom_domain.json", "http_api_default_stage.json", "http_api_named_stage.json",
                        "rest_api.json", "rest_api_custom_domain.json"]


@pytest.mark.parametrize("name", FIXTURES)
def test_both_doors_answer_every_published_shape_alike(doors: dict[str, Any], logreg_bundle: TrainResult,
                                                        name: str) -> None:
    import prediction_core

    instance = prediction_core.load(logreg_bundle.bundle_dir, "onnx").schema.example_instance()
    replies = {door: handler(event(name, {"instances": [instance]}), FakeContext()) for door, handler in doors.items()}
    native, asgi = replies["native"], replies["asgi"]
    assert native["statusCode"] == asgi["statusCode"] == 200, (native, asgi)
    assert json.loads(native["body"]) == json.loads(asgi["body"])
    assert json.loads(native["body"])["predictions"]
    sent = json.loads((REPLAY / name).read_text())
    for door, reply in replies.items():
        assert isinstance(reply.get("isBase64Encoded"), bool), door
        if name.startswith("alb"):
            assert reply["statusDescription"] == "200 OK", door
            # an ALB answers in the header mode its target group uses
            assert ("multiValueHeaders" in reply) == ("multiValueHeaders" in sent), door
            assert ("headers" in reply) != ("multiValueHeaders" in sent), door
        else:
            assert "statusDescription" not in reply
        if sent.get("version") == "2.0":
            assert all(isinstance(v, str) for v in reply["headers"].values()), door
    # a duplicated X-Request-Id is echoed the same way by both
    assert headers_of(native)["x-request-id"] == headers_of(asgi)["x-request-id"]


def test_named_stage_and_base_path_are_stripped_before_routing(doors: dict[str, Any]) -> None:
    for name in ("http_api_named_stage.json", "http_api_custom_domain.json", "rest_api_custom_domain.json"):
        health = event(name, {})
        health["body"] = None
        if health.get("version") == "2.0":
            health["rawPath"] = health["rawPath"].replace("/predict", "/health")
            health["requestContext"]["http"].update(method="GET", path=health["rawPath"])
        else:
            health.update(httpMethod="GET", path=health["path"].replace("/predict", "/health"))
        statuses = {door: handler(health, FakeContext())["statusCode"] for door, handler in doors.items()}
        assert statuses == {"native": 200, "asgi": 200}, name
    elsewhere = event("rest_api.json", {})
    elsewhere["path"] = "/other/predict"  # a prefix that is not the base path is not stripped
    assert {door: h(elsewhere, FakeContext())["statusCode"] for door, h in doors.items()} == \
        {"native": 404, "asgi": 404}
