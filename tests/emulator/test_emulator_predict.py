"""The real prediction handler, packaged for this machine, behind the emulator and its CLI."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import prediction_core
from prediction_core.training import TrainResult
from tests.live_doors import free_port
from twinserve.commands.emulate import resolve_package
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.runner import EmulatorThread
from twinserve.packaging import build_lambda

FIXTURES = Path(__file__).resolve().parents[1] / "lambda_fixtures"


@pytest.fixture(scope="module")
def onnx_package(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pkg") / "native-onnx-local"
    build_lambda(bundle=logreg_bundle.bundle_dir, runtime="onnx", door="native", target="local", out=out)
    return out


@pytest.fixture(scope="module")
def emulated(onnx_package: Path) -> Iterator[EmulatorThread]:
    code, handler, _ = resolve_package(onnx_package, None)
    config = FunctionConfig(package=code, handler=handler, memory_mb=1769, environment={"MODEL_RUNTIME": "onnx"})
    with EmulatorThread(config) as emu:
        yield emu


def post(port: int, body: bytes, path: str = "/predict") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=body, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def test_predictions_through_the_emulator_match_the_core(emulated: EmulatorThread,
                                                          logreg_bundle: TrainResult) -> None:
    predictor = prediction_core.load(logreg_bundle.bundle_dir, "onnx")
    instances = [predictor.schema.example_instance()] * 3
    status, headers, body = post(emulated.emulator.port, json.dumps({"instances": instances}).encode())
    assert status == 200
    assert json.loads(body)["predictions"] == predictor.predict(instances)
    assert headers["x-emulator-cold"] == "true"
    metrics = json.loads(headers["x-emulator-metrics"])
    # The handler's own INIT breakdown arrives with the first invocation's EMF metrics.
    assert {"HandlerImportMs", "RuntimeImportMs", "ModelLoadMs", "FirstPredictMs", "InitTotalMs"} <= set(metrics)
    assert metrics["InitTotalMs"] <= float(headers["x-emulator-init-ms"])


def test_the_lean_package_answers_through_the_emulator_as_the_core_does(
        logreg_bundle: TrainResult, tmp_path: Path) -> None:
    out = tmp_path / "native-lean-local"
    build_lambda(bundle=logreg_bundle.bundle_dir, runtime="lean", door="native", target="local", out=out)
    code, handler, _ = resolve_package(out, None)
    predictor = prediction_core.load(logreg_bundle.bundle_dir, "lean")
    instances = [predictor.schema.example_instance()] * 3
    config = FunctionConfig(package=code, handler=handler, memory_mb=1769, environment={"MODEL_RUNTIME": "lean"})
    with EmulatorThread(config) as emu:
        status, headers, body = post(emu.emulator.port, json.dumps({"instances": instances}).encode())
        assert status == 200 and headers["x-emulator-cold"] == "true"
        assert json.loads(body)["predictions"] == predictor.predict(instances)
        assert json.loads(body)["model"]["runtime"] == "lean"
        status, _, body = post(emu.emulator.port, json.dumps({"instances": instances[:1]}).encode())
        assert status == 200 and json.loads(body)["predictions"] == predictor.predict(instances[:1])


def test_validation_errors_pass_through_the_emulator(emulated: EmulatorThread) -> None:
    status, _, body = post(emulated.emulator.port, b'{"instances": [{"nope": 1}]}')
    assert status == 422 and json.loads(body)["error"]["type"] == "validation_error"


def test_a_package_for_another_python_is_refused(onnx_package: Path, tmp_path: Path) -> None:
    import shutil

    import typer

    other = Path(shutil.copytree(onnx_package, tmp_path / "aws-build"))
    report = json.loads((other / "package-report.json").read_text())
    report.update(target="aws", python_version="3.12")
    (other / "package-report.json").write_text(json.dumps(report))
    with pytest.raises(typer.Exit):
        resolve_package(other, None)


def test_cli_runs_in_the_foreground_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "lambda.log"
    proc = subprocess.Popen([sys.executable, "-m", "twinserve", "emulate", "--package", str(FIXTURES),
                             "--handler", "handlers.hello", "--port", str(port), "--log-file", str(log_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, body = post(port, b"{}", "/hello")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "emulator did not start"
                time.sleep(0.1)
        assert status == 200
        pid = json.loads(body)["pid"]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}" in out and "all environments shut down" in out
    assert not Path(f"/proc/{pid}").exists()
    assert "REPORT RequestId:" in log_file.read_text()
