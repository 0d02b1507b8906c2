"""Same request, same answer: the native Powertools handler (HTTP API v2, REST v1, ALB events),
the Mangum handler (same events) and the live container service on loopback."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from prediction_core import MAX_INSTANCES
from prediction_core.training import TrainResult
from tests.events import FakeContext, make_event, response_parts
from tests.helpers import heldout_instances
from tests.live_doors import JSON, EventDoor, LiveService, Reply, Request, import_fresh, lambda_env

EVENT_KINDS = ("http-api-v2", "rest-api-v1", "alb")
SEVEN_MB = 7 * 1024 * 1024


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def corpus(instances: list[dict[str, Any]]) -> list[Request]:
    """At least 200 requests: valid single rows, batches, every kind of bad input, routes and methods."""
    good = instances[0]
    field = next(iter(good))
    reqs = [Request(f"single-{i}", "POST", "/predict", body({"instances": [inst]}))
            for i, inst in enumerate(instances)]
    reqs += [Request(f"batch-{n}", "POST", "/predict", body({"instances": (instances * 20)[:n]}))
             for n in (2, 10, 143, 1000, MAX_INSTANCES)]
    bad_values: list[tuple[str, Any]] = [("string", "12.5"), ("bool", True), ("null", None), ("list", [1.0]),
                                         ("object", {"v": 1}), ("negative", -1.0), ("huge", 1e12), ("int-ok", 10)]
    reqs += [Request(f"value-{name}", "POST", "/predict", body({"instances": [{**good, field: v}]}))
             for name, v in bad_values]
    for i, name in enumerate(list(good)[:12]):
        missing = {k: v for k, v in good.items() if k != name}
        reqs.append(Request(f"missing-{i}", "POST", "/predict", body({"instances": [good, missing]})))
        reqs.append(Request(f"unknown-{i}", "POST", "/predict", body({"instances": [{**good, f"x{i}": 1}]})))
    raw_bad = {
        "nan-literal": b'{"instances": [{"%s": NaN}]}' % field.encode(),
        "inf-literal": b'{"instances": [{"%s": Infinity}]}' % field.encode(),
        "overflow": b'{"instances": [{"%s": 1e999}]}' % field.encode(),
        "truncated": b'{"instances": [',
        "trailing-comma": b'{"instances": [1,]}',
        "not-utf8": b'{"instances": "\xff\xfe"}',
        "array-body": b"[1, 2, 3]",
        "string-body": b'"instances"',
        "number-body": b"42",
        "null-body": b"null",
        "empty-object": b"{}",
        "extra-key": body({"instances": [good], "model": "x"}),
        "instances-object": body({"instances": good}),
        "instances-empty": body({"instances": []}),
        "instances-strings": body({"instances": ["a", "b"]}),
        "too-many": body({"instances": [good] * (MAX_INSTANCES + 1)}),
        "whitespace": b"   \n ",
        "seven-mb": b'{"instances": [], "pad": "' + b"x" * SEVEN_MB + b'"}',
    }
    reqs += [Request(name, "POST", "/predict", data) for name, data in raw_bad.items()]
    reqs.append(Request("empty", "POST", "/predict", b""))
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"):
        reqs.append(Request(f"ctype-{ctype}", "POST", "/predict", body({"instances": [good]}), {"content-type": ctype}))
    reqs.append(Request("no-ctype", "POST", "/predict", body({"instances": [good]}), {}))
    reqs.append(Request("ctype-charset", "POST", "/predict", body({"instances": [good]}),
                        {"content-type": "application/json; charset=utf-8"}))
    reqs.append(Request("ctype-upper", "POST", "/predict", body({"instances": [good]}),
                        {"content-type": "Application/JSON"}))
    reqs.append(Request("ctype-vendor", "POST", "/predict", body({"instances": [good]}),
                        {"content-type": "application/vnd.api+json"}))
    routes = [("GET", "/health"), ("GET", "/model"), ("GET", "/predict"), ("PUT", "/predict"),
              ("DELETE", "/predict"), ("PATCH", "/predict"), ("POST", "/health"), ("DELETE", "/model"),
              ("GET", "/"), ("GET", "/nope"), ("POST", "/predict/"), ("GET", "/health/"), ("POST", "/PREDICT"),
              ("GET", "/v1/predict")]
    reqs += [Request(f"route-{m}-{p}", m, p, None, {}) for m, p in routes]
    return reqs


def comparable(reply: Reply) -> tuple[int, Any, str | None, str | None]:
    status, headers, data = reply
    return status, data, headers.get("content-type", "").split(";")[0], headers.get("allow")


@pytest.fixture(scope="module", params=["onnx", "sklearn", "lean"])
def doors(request: pytest.FixtureRequest, logreg_bundle: TrainResult) -> Iterator[dict[str, Any]]:
    runtime = request.param
    with lambda_env(logreg_bundle.bundle_dir, runtime):
        native = import_fresh("functions.predict.handler")
        mangum = import_fresh("functions.asgi.handler")
        service = LiveService(logreg_bundle.bundle_dir, runtime)
        try:
            found: dict[str, Any] = {f"native/{k}": EventDoor(native.handler, k) for k in EVENT_KINDS}
            found.update({f"asgi/{k}": EventDoor(mangum.handler, k) for k in EVENT_KINDS})
            found["container"] = service
            yield found
        finally:
            assert service.stop() == 0  # graceful shutdown on SIGTERM


@pytest.fixture(scope="module")
def requests_corpus(logreg_bundle: TrainResult, corpus_file: Any) -> list[Request]:
    reqs = corpus(heldout_instances(logreg_bundle, corpus_file))
    assert len(reqs) >= 200
    return reqs


def test_every_door_gives_the_same_status_and_body(doors: dict[str, Any], requests_corpus: list[Request]) -> None:
    mismatches = []
    statuses: dict[int, int] = {}
    for req in requests_corpus:
        replies = {name: comparable(door.send(req)) for name, door in doors.items()}
        reference = replies["container"]
        statuses[reference[0]] = statuses.get(reference[0], 0) + 1
        mismatches += [(req.label, name, reply[:1], reference[:1]) for name, reply in replies.items()
                       if reply != reference]
        assert reference[0] < 500, f"{req.label}: server error {reference}"
    assert mismatches == [], mismatches[:10]
    # The corpus really exercises every documented status.
    assert {200, 400, 404, 405, 413, 415, 422} <= set(statuses)


@pytest.mark.parametrize(
    ("label", "status", "error_type"),
    [("truncated", 400, "malformed_json"), ("empty", 400, "empty_body"), ("nan-literal", 400, "malformed_json"),
     ("seven-mb", 413, "payload_too_large"), ("ctype-text/plain", 415, "unsupported_media_type"),
     ("no-ctype", 415, "unsupported_media_type"),
     # 10,001 rows of 30 features is about 7 MB: the payload limit answers before the row limit.
     ("too-many", 413, "payload_too_large"),
     ("missing-0", 422, "validation_error"), ("unknown-0", 422, "validation_error"),
     ("value-string", 422, "validation_error"), ("route-GET-/nope", 404, "not_found"),
     ("route-GET-/predict", 405, "method_not_allowed")],
)
def test_bad_input_gets_the_documented_status(doors: dict[str, Any], requests_corpus: list[Request],
                                              label: str, status: int, error_type: str) -> None:
    req = next(r for r in requests_corpus if r.label == label)
    got_status, _, data = doors["container"].send(req)
    assert got_status == status
    assert data["error"]["type"] == error_type
    assert set(data["error"]) == {"type", "message", "details"}


def test_validation_error_names_index_and_field(doors: dict[str, Any], requests_corpus: list[Request]) -> None:
    req = next(r for r in requests_corpus if r.label == "missing-3")
    _, _, data = doors["native/http-api-v2"].send(req)
    assert data["error"]["details"][0]["loc"][:2] == ["instances", 1]
    assert data["error"]["message"].startswith("instance 1.")


def test_predictions_are_real(doors: dict[str, Any], requests_corpus: list[Request]) -> None:
    req = next(r for r in requests_corpus if r.label == "batch-143")
    status, _, data = doors["container"].send(req)
    assert status == 200 and len(data["predictions"]) == 143
    for p in data["predictions"]:
        assert math.isclose(sum(p["probabilities"].values()), 1.0, abs_tol=1e-6)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)


def test_base64_bodies(doors: dict[str, Any], requests_corpus: list[Request]) -> None:
    req = next(r for r in requests_corpus if r.label == "single-0")
    plain = comparable(doors["container"].send(req))
    for kind in EVENT_KINDS:
        for prefix in ("native", "asgi"):
            assert comparable(doors[f"{prefix}/{kind}"].send(req, base64_body=True)) == plain


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_base64_garbage_is_a_400_naming_base64(doors: dict[str, Any], kind: str) -> None:
    event = make_event(kind, "POST", "/predict", b"", JSON)
    event.update(body="%%%not base64%%%", isBase64Encoded=True)
    status, _, data = response_parts(doors[f"native/{kind}"].handler(event, FakeContext()))
    assert status == 400
    assert data["error"]["type"] == "malformed_body" and "base64" in data["error"]["message"]


def test_request_id_is_echoed_or_taken_from_lambda(doors: dict[str, Any]) -> None:
    req = Request("rid", "GET", "/health", None, {"x-request-id": "client-chosen-42"})
    for name, door in doors.items():
        assert door.send(req)[1]["x-request-id"] == "client-chosen-42", name
    _, headers, _ = doors["native/http-api-v2"].send(Request("rid2", "GET", "/health", None, {}))
    assert headers["x-request-id"] == "8f507cfc-0000-4697-b07a-ac58fc914c95"
