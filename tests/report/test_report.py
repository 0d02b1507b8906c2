"""The report from a real (small) benchmark run: files, provenance labels, and charts that render
in headless Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks.harness.context import Options
from benchmarks.harness.runner import run_bench
from benchmarks.harness.targets import LocalContainerTarget, LocalLambdaTarget
from prediction_core.training import TrainResult
from twinserve.cli import app
from twinserve.packaging import copy_package_with_model, ensure_local_package

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def run_dir(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import prediction_core

    package = ensure_local_package(logreg_bundle.bundle_dir, "native", "onnx", root=tmp_path_factory.mktemp("lam"))
    out = tmp_path_factory.mktemp("results") / "report-run"
    options = Options(cold_starts=2, warm_requests=30, burst_size=3, limit_batches=(1, 8000), sweep_trees=(10,),
                      sweep_memory_mb=(512, 1769), sweep_cold_starts=1, sweep_warm_requests=5)
    example = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    targets = [LocalLambdaTarget(package=package, runtime="onnx", repackage=copy_package_with_model),
               LocalContainerTarget(bundle=logreg_bundle.bundle_dir)]
    run_bench(targets, ["cold-start", "warm", "limits", "model-size", "memory-sweep"], out, options=options,
              example=example)
    result = CliRunner().invoke(app, ["report", str(out), "--peak-rps", "5"])
    assert result.exit_code == 0, result.output
    return out


def test_report_files_and_verdict(run_dir: Path) -> None:
    for name in ("report.html", "report.md", "cost.csv", "cost.json"):
        assert (run_dir / name).is_file(), name
    rows = list(csv.DictReader((run_dir / "cost.csv").open()))
    assert {r["profile"] for r in rows} == {"constant", "diurnal", "business-hours", "spiky"}
    assert {r["source"] for r in rows} == {"modeled"}
    assert sum(r["recommended"] == "True" for r in rows) == 4
    md = (run_dir / "report.md").read_text()
    assert "## Verdict" in md and "Break-even" in md
    # every figure and table says where its numbers came from
    for caption in re.findall(r"^\*(.+)\*$", md, flags=re.M):
        assert "modeled" in caption or "measured" in caption, caption
    for heading in re.findall(r"^## (.+)$", md, flags=re.M)[1:]:
        assert any(w in heading for w in ("modeled", "measured", "came from")), heading
    data = json.loads((run_dir / "cost.json").read_text())
    assert data["sweep"]["source"] == "modeled" and data["sweep"]["break_even_rps"]


def test_power_tuning_chart_table_and_verdict(run_dir: Path) -> None:
    md = (run_dir / "report.md").read_text()
    assert (run_dir / "report-memory.png").stat().st_size > 10_000
    assert "## Power tuning — durations measured here" in md
    verdict = re.search(r"^- Lambda memory: (\d+) MB — (.+)$", md, flags=re.M)
    assert verdict and int(verdict.group(1)) in (512, 1769), md[:2000]
    table = md.split("## Power tuning")[1].split("\n## ")[0]
    assert table.count("\n| 512") + table.count("\n| 1769") == 2 and "✔" in table


def test_inputs_are_measured_ones_with_their_provenance(run_dir: Path) -> None:
    from cost_model.from_results import inputs_from_results

    inputs = inputs_from_results(run_dir)
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    cold = next(g for g in summary["groups"] if g["target"] == "local-lambda" and g["scenario"] == "cold-start")
    assert inputs.lambda_init_ms == cold["server_init_ms"]["p50"]
    assert "measured-local" in inputs.provenance["lambda_init_ms"]
    assert inputs.provenance["per_task_rps"].startswith("default")  # no saturation run here: said so


def test_charts_render_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "make test installs Debian's chromium package for this test"
    url = (run_dir / "report.html").resolve().as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's load script did not run"
    assert int(total.group(1)) >= 4 and loaded.group(1) == total.group(1)
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1200,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 50_000  # a page with charts, not a blank one


def test_cold_start_table_has_the_aws_estimate_with_its_source(run_dir: Path) -> None:
    md = (run_dir / "report.md").read_text()
    table = md.split("## Cold starts: measured here")[1].split("\n## ")[0]
    assert "AWS estimate, ms (modeled)" in table
    row = next(line for line in table.splitlines() if line.startswith("| local-lambda"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    local_ms, aws_ms = float(cells[1].replace(",", "")), float(cells[2].replace(",", ""))
    assert aws_ms > local_ms * 0.5 and "lambda-perf, 2026-08-22" in cells[4] and "measured here" in cells[4]


def test_aws_estimate_adds_the_handlers_extra_to_the_published_hello_world() -> None:
    from twinserve.report.aws_estimate import estimates, hello_world_row

    row = hello_world_row(package="zip", arch="x86_64", memory_mb=1769)  # nearest size at or below: 1,024 MB
    assert (row["runtime"], row["memory_mb"]) == ("python3.12", 1024)
    anatomy = {"runtime_start_ms": 55.0, "imports_ms": 178.0, "model_load_ms": 4.0, "first_predict_ms": 1.0,
               "other_init_ms": 2.0, "invoke_ms": 2.3, "front_door_ms": 1.9}
    (estimate,) = estimates({"local-lambda": anatomy}, memory_mb=1769)
    assert estimate["local_init_ms"] == 240.0
    assert estimate["aws_ms"] == row["avg_init_ms"] + 185.0  # INIT 240 minus the 55 ms runtime start
    assert (estimate["aws_low_ms"], estimate["aws_high_ms"]) == (row["min_init_ms"] + 185.0,
                                                                 row["max_init_ms"] + 185.0)
    # a door without a runtime-start figure borrows the run's other targets'
    both = estimates({"a": anatomy, "b": {"other_init_ms": 600.0, "invoke_ms": 1.0}}, memory_mb=1769)
    assert both[1]["aws_ms"] == row["avg_init_ms"] + 545.0
