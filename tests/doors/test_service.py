"""The container service as deployed: gunicorn + uvicorn workers, OpenAPI, schemathesis, shutdown."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prediction_core import MAX_INSTANCES
from prediction_core.training import TrainResult
from tests.live_doors import LiveService, Request

SCHEMATHESIS_EXAMPLES = 40


@pytest.fixture(scope="module")
def text_service(text_bundle: TrainResult) -> Iterator[LiveService]:
    service = LiveService(text_bundle.bundle_dir, "onnx", workers=2)
    yield service
    assert service.stop() == 0


def post(service: LiveService, payload: object) -> tuple[int, dict]:
    status, _, data = service.send(Request("p", "POST", "/predict", json.dumps(payload).encode()))
    return status, data


def test_row_limit_is_enforced_over_http(text_service: LiveService) -> None:
    status, data = post(text_service, {"instances": [{"text": "great food"}] * MAX_INSTANCES})
    assert status == 200 and len(data["predictions"]) == MAX_INSTANCES
    status, data = post(text_service, {"instances": [{"text": "great food"}] * (MAX_INSTANCES + 1)})
    assert status == 422
    assert data["error"]["details"][0]["loc"] == ["instances"]


def test_model_route_describes_the_schema(text_service: LiveService) -> None:
    status, _, data = text_service.send(Request("m", "GET", "/model", None, {}))
    assert status == 200
    assert data["input_schema"]["kind"] == "text"
    assert data["runtime"] == "onnx" and data["classes"] == ["0", "1"]


def test_openapi_documents_the_real_features(text_service: LiveService) -> None:
    status, _, spec = text_service.send(Request("o", "GET", "/openapi.json", None, {}))
    assert status == 200
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    item = body["properties"]["instances"]["items"]
    assert item["properties"] == {"text": {"type": "string", "maxLength": 5000}}
    assert body["properties"]["instances"]["maxItems"] == MAX_INSTANCES
    # The second limit a schema-valid request can hit: the body size, stated beside the row limit.
    request_body = spec["paths"]["/predict"]["post"]["requestBody"]
    assert request_body["x-max-body-bytes"] == 6 * 1024 * 1024
    assert "at most 6,291,456 bytes of body" in request_body["description"]
    assert {"200", "400", "413", "415", "422"} <= set(spec["paths"]["/predict"]["post"]["responses"])


def test_schemathesis_finds_no_server_error(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    """Bounded property-based run against the live service's own OpenAPI: no 5xx for any input."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency: make test installs it"
    service = LiveService(logreg_bundle.bundle_dir, "onnx", workers=1)
    try:
        proc = subprocess.run(
            [st, "run", f"{service.url}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", str(SCHEMATHESIS_EXAMPLES), "--seed", "1", "--request-timeout", "10",
             "--mode", "all"],
            capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path)
    finally:
        assert service.stop() == 0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout
    assert " passed" in proc.stdout  # cases were really generated and sent


def test_sigterm_shuts_down_gracefully(logreg_bundle: TrainResult) -> None:
    service = LiveService(logreg_bundle.bundle_dir, "sklearn", workers=2)
    assert service.send(Request("h", "GET", "/health", None, {}))[0] == 200
    assert service.stop() == 0
