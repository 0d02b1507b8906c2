"""The Locust file runs distributed (a master and a worker, both on loopback) against the service."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from prediction_core.training import TrainResult
from tests.live_doors import LiveService, free_port

LOCUSTFILE = Path(__file__).resolve().parents[2] / "benchmarks" / "locustfile.py"


def test_master_and_worker_drive_the_container_service(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent))
    assert locust, "locust is a dev dependency: make test installs it"
    service = LiveService(logreg_bundle.bundle_dir, "onnx")
    env = {**os.environ, "TWINSERVE_BUNDLE": str(logreg_bundle.bundle_dir), "TWINSERVE_RATE_PER_USER": "20"}
    port = str(free_port())
    try:
        master = subprocess.Popen([locust, "-f", str(LOCUSTFILE), "--master", "--headless", "-u", "4", "-r", "4",
                                   "-t", "4s", "--expect-workers", "1", "--master-bind-host", "127.0.0.1",
                                   "--master-bind-port", port, "--host", service.url, "--csv", str(tmp_path / "run"),
                                   "--only-summary"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        worker = subprocess.Popen([locust, "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
                                   "--master-port", port], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        out = master.communicate(timeout=120)[0].decode()
        worker.wait(timeout=60)
    finally:
        assert service.stop() == 0
    assert master.returncode == 0, out[-2000:]
    rows = {r["Name"]: r for r in csv.DictReader((tmp_path / "run_stats.csv").open())}
    predict = rows["/predict"]
    assert int(predict["Request Count"]) >= 100  # 4 users × 20 req/s for ~4 s, from the worker
    assert int(predict["Failure Count"]) == 0
