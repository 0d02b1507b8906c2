"""A bug inside the model gives a 500 with a request id and a logged traceback, never a crash."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest

from container_service.main import build_asgi
from container_service.settings import Settings
from prediction_core.training import TrainResult, import_pipeline
from tests.helpers import EXPLODING_VALUE, explode_on_13
from tests.live_doors import EventDoor, Request, import_fresh, lambda_env


@pytest.fixture(scope="module")
def fragile_bundle(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    tmp = tmp_path_factory.mktemp("fragile")
    x = np.random.default_rng(0).uniform(0, 10, size=(100, 2))
    y = np.where(x[:, 1] > 5, "hi", "lo")
    joblib.dump(make_pipeline(FunctionTransformer(explode_on_13), LogisticRegression()).fit(x, y), tmp / "f.joblib")
    (tmp / "schema.json").write_text(json.dumps({"features": [
        {"name": "a", "type": "number", "minimum": 0, "maximum": 20},
        {"name": "b", "type": "number", "minimum": 0, "maximum": 20}]}))
    return import_pipeline(tmp / "f.joblib", tmp / "schema.json", out=tmp / "bundle")


BOOM = json.dumps({"instances": [{"a": EXPLODING_VALUE, "b": 1.0}]}).encode()


def test_container_answers_500_with_request_id(fragile_bundle: TrainResult,
                                               caplog: pytest.LogCaptureFixture) -> None:
    app = build_asgi(Settings(bundle=fragile_bundle.bundle_dir, runtime="sklearn"))

    async def exchange() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ok = await client.post("/predict", content=json.dumps({"instances": [{"a": 1.0, "b": 9.0}]}),
                                   headers={"content-type": "application/json"})
            bad = await client.post("/predict", content=BOOM, headers={"content-type": "application/json",
                                                                       "x-request-id": "trace-me"})
            return ok, bad, await client.get("/health")

    with caplog.at_level(logging.ERROR):
        ok, bad, after = asyncio.run(exchange())
    assert ok.status_code == 200 and ok.json()["predictions"][0]["label"] == "hi"
    assert bad.status_code == 500
    assert bad.json() == {"error": {"type": "internal_error", "message": "unexpected server error; quote request id "
                                    "trace-me", "details": [{"request_id": "trace-me"}]}}
    assert any("trace-me" in r.getMessage() and r.exc_info for r in caplog.records)
    assert "boom" in caplog.text
    assert after.status_code == 200


def test_native_handler_answers_500_too(fragile_bundle: TrainResult) -> None:
    with lambda_env(Path(fragile_bundle.bundle_dir), "sklearn"):
        handler = import_fresh("functions.predict.handler")
    status, headers, data = EventDoor(handler.handler, "alb").send(Request("boom", "POST", "/predict", BOOM))
    assert status == 500
    assert data["error"]["type"] == "internal_error"
    assert data["error"]["details"] == [{"request_id": headers["x-request-id"]}]
