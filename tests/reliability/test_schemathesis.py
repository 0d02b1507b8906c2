"""Property-based requests from the service's own OpenAPI, every schemathesis check, against the
container service and through the local emulator's API Gateway front door to the Lambda handler."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from prediction_core.training import TrainResult
from tests.live_doors import LiveService
from tests.reliability.conftest import Figures, scale

HERE = Path(__file__).parent
EXAMPLES = scale(15, 700)  # per operation and phase: about 1,100 cases in all at 700


def run_schemathesis(schema: str, base_url: str, cwd: Path) -> tuple[int, int, str]:
    """(cases generated, failures, output) of one run with every check."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency: make test installs it"
    shutil.copy(HERE / "schemathesis.toml", cwd / "schemathesis.toml")
    proc = subprocess.run([st, "run", schema, "--url", base_url, "--checks", "all", "--max-examples", str(EXAMPLES),
                           "--seed", "1", "--request-timeout", "20", "--mode", "all"],
                          capture_output=True, text=True, timeout=1200, check=False, cwd=cwd)
    generated = re.search(r"(\d+) generated", proc.stdout)
    failures = re.search(r"(\d+) found (\d+) unique failure", proc.stdout)
    found = proc.stdout.split("FAILURES", 1)[-1][:6000] if "FAILURES" in proc.stdout else proc.stdout[-3000:]
    return (int(generated.group(1)) if generated else 0, int(failures.group(2)) if failures else 0,
            found + proc.stderr[-2000:])


def test_the_service_passes_every_schemathesis_check(logreg_bundle: TrainResult, tmp_path: Path,
                                                     figures: Figures) -> None:
    service = LiveService(logreg_bundle.bundle_dir, "onnx", workers=1)
    try:
        generated, failures, output = run_schemathesis(f"{service.url}/openapi.json", service.url, tmp_path)
    finally:
        assert service.stop() == 0
    figures.add("container service", "schemathesis, every check, from its OpenAPI", generated, failures)
    assert failures == 0 and "No issues found" in output, output
    assert generated >= scale(30, 1000)


def test_the_lambda_handler_behind_the_emulators_front_door_passes_them_too(
        logreg_bundle: TrainResult, tmp_path: Path, figures: Figures) -> None:
    from twinserve.emulator.config import FunctionConfig
    from twinserve.emulator.runner import EmulatorThread
    from twinserve.packaging import ensure_local_package

    service = LiveService(logreg_bundle.bundle_dir, "onnx", workers=1)
    try:
        with urllib.request.urlopen(f"{service.url}/openapi.json", timeout=10) as resp:
            (tmp_path / "openapi.json").write_bytes(resp.read())
    finally:
        assert service.stop() == 0
    package = ensure_local_package(logreg_bundle.bundle_dir, "native", "onnx", root=tmp_path / "lambda")
    report = json.loads((package / "package-report.json").read_text())
    config = FunctionConfig(package=Path(report["package_dir"]), handler=report["handler"], memory_mb=1769,
                            environment={"MODEL_RUNTIME": "onnx"})
    with EmulatorThread(config) as emulator:
        generated, failures, output = run_schemathesis(str(tmp_path / "openapi.json"), emulator.url, tmp_path)
    figures.add("Lambda handler (emulator, API Gateway front door)", "schemathesis, every check, same OpenAPI",
                generated, failures)
    assert failures == 0 and "No issues found" in output, output
    assert generated >= scale(30, 1000)
