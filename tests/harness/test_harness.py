"""The benchmark harness against the emulator and the container service on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness.context import Options
from benchmarks.harness.runner import run_bench
from benchmarks.harness.targets import LocalContainerTarget, LocalLambdaTarget
from prediction_core.training import TrainResult
from twinserve.packaging import copy_package_with_model, ensure_local_package

FIXTURES = Path(__file__).resolve().parents[1] / "lambda_fixtures"
RAW_FIELDS = {"target", "scenario", "source", "step", "intended_at", "sent_at", "latency_ms", "status", "cold",
              "env_id", "request_id", "server", "error"}
GROUP_FIELDS = {"target", "scenario", "step", "source", "requests", "ok", "errors", "throttled", "cold_starts",
                "throughput_per_s", "latency_ms", "latency_cold_ms", "latency_warm_ms"}


def small_options() -> Options:
    return Options(quick=True, cold_starts=2, warm_requests=20, burst_size=4, rate_per_s=20, rate_duration_s=1.0,
                   saturation_start_per_s=50, saturation_step_s=0.5, saturation_max_steps=3,
                   limit_batches=(1, 1000, 8000),
                   sweep_trees=(10,))


@pytest.fixture(scope="module")
def package(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_local_package(logreg_bundle.bundle_dir, "native", "onnx", root=tmp_path_factory.mktemp("lambda"))


@pytest.fixture(scope="module")
def full_run(package: Path, logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import prediction_core

    out = tmp_path_factory.mktemp("results") / "run"
    example = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    targets = [LocalLambdaTarget(package=package, runtime="onnx", concurrency=4, repackage=copy_package_with_model,
                                 bundle=logreg_bundle.bundle_dir),
               LocalContainerTarget(bundle=logreg_bundle.bundle_dir)]
    scenarios = ["cold-start", "warm", "burst", "rate", "saturation", "limits", "model-size"]
    summary = run_bench(targets, scenarios, out, options=small_options(), example=example)
    return {"out": out, "summary": summary, "example": example, "targets": targets, "scenarios": scenarios}


def test_every_scenario_writes_raw_and_summary_with_the_documented_fields(full_run: dict[str, Any]) -> None:
    out = full_run["out"]
    raw = [json.loads(line) for line in (out / "raw.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    for target in ("local-lambda", "local-container"):
        for scenario in full_run["scenarios"]:
            mine = [r for r in raw if r["target"] == target and r["scenario"] == scenario]
            if scenario == "model-size":  # the default model is no tree ensemble: skipped, with the reason
                assert not mine
                assert "not a tree ensemble" in summary["findings"][f"{target}/model-size"]["skipped"]
                continue
            assert mine, (target, scenario)
            assert all(set(r) == RAW_FIELDS for r in mine)
            assert {r["source"] for r in mine} == {"measured-local"}
            assert f"{target}/{scenario}" in summary["findings"]
    assert all(set(g) >= GROUP_FIELDS for g in summary["groups"])
    env = summary["environment"]["machine"]
    assert {"platform", "cpu", "cpus", "python", "versions", "git_commit"} <= set(env)
    assert summary["targets"]["local-lambda"]["emulator"]["cpu_scaled"] in (True, False)


def test_cold_start_records_carry_the_anatomy(full_run: dict[str, Any]) -> None:
    findings = full_run["summary"]["findings"]["local-lambda/cold-start"]
    anatomy = findings["anatomy_p50_ms"]
    assert {"runtime_start_ms", "imports_ms", "model_load_ms", "first_predict_ms", "invoke_ms"} <= set(anatomy)
    assert anatomy["imports_ms"] > anatomy["model_load_ms"] > 0
    raw = [json.loads(line) for line in (full_run["out"] / "raw.jsonl").read_text().splitlines()]
    cold = [r for r in raw if r["target"] == "local-lambda" and r["scenario"] == "cold-start"]
    assert all(r["cold"] and r["server"]["report_init_ms"] > 0 and r["server"]["billed_duration_ms"] >= 1
               for r in cold)
    container = full_run["summary"]["findings"]["local-container/cold-start"]["container_cold_path_p50_ms"]
    assert container["process_to_healthy_ms"] > 0


def test_limits_find_the_payload_limit(full_run: dict[str, Any]) -> None:
    for target, who in (("local-lambda", "Lambda (synchronous)"), ("local-container", "the service's contract")):
        findings = full_run["summary"]["findings"][f"{target}/limits"]
        assert findings["largest_ok_batch"] == 1000
        assert findings["stopped_by"] == f"payload limit (6 MB, {who})" and findings["at_batch"] == 8000


def test_limits_behind_an_alb_are_1_mb(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    """Behind an ALB a Lambda target receives at most 1 MB: a batch of 1,000 rows (about 0.8 MB here
    with the 30-feature model) passes, 2,000 do not, where API Gateway would take 8,000."""
    import prediction_core

    package = ensure_local_package(logreg_bundle.bundle_dir, "native", "onnx", root=tmp_path / "lam")
    target = LocalLambdaTarget(package=package, runtime="onnx", front_door="alb")
    example = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    summary = run_bench([target], ["limits"], tmp_path / "alb", options=Options(limit_batches=(1, 1000, 2000)),
                        example=example)
    findings = summary["findings"]["local-lambda/limits"]
    assert findings["stopped_by"] == "payload limit (1 MB, ALB (Lambda targets))"
    assert (findings["largest_ok_batch"], findings["at_batch"]) == (1000, 2000)
    assert findings["largest_ok_body_bytes"] < 2**20 < findings["body_bytes"]


def test_a_run_resumes_and_repeats_on_request(full_run: dict[str, Any]) -> None:
    out = full_run["out"]
    before = (out / "raw.jsonl").read_text()
    summary = run_bench(full_run["targets"], ["warm"], out, options=small_options(), example=full_run["example"])
    assert (out / "raw.jsonl").read_text() == before  # nothing re-run: both pairs were finished
    summary = run_bench(full_run["targets"][1:], ["warm"], out, options=small_options(),
                        example=full_run["example"], repeat=["warm"])
    warm = [g for g in summary["groups"] if g["target"] == "local-container" and g["scenario"] == "warm"]
    assert warm[0]["requests"] == 20  # replaced, not appended


@pytest.mark.parametrize(("front_door", "throttled", "errors"), [("url", 3, 0), ("http", 0, 3)])
def test_burst_on_an_idle_emulator_with_concurrency_5(tmp_path: Path, front_door: str, throttled: int,
                                                      errors: int) -> None:
    """Counted as the client sees them: behind a function URL a throttle is a 429, behind an HTTP
    API a 500, an error to the user."""
    target = LocalLambdaTarget(package=FIXTURES, handler="handlers.sleepy", concurrency=5, front_door=front_door)
    options = Options(burst_size=8)
    summary = run_bench([target], ["burst"], tmp_path / "burst", options=options, example={})
    findings = summary["findings"]["local-lambda/burst"]
    assert findings == {"burst": 8, "ok": 5, "cold_starts": 5, "throttled": throttled, "errors": errors}


def test_limits_find_the_emulators_configured_timeout(tmp_path: Path) -> None:
    target = LocalLambdaTarget(package=FIXTURES, handler="handlers.slow_batch", timeout_s=1)
    options = Options(limit_batches=(1, 10, 100, 1000))
    summary = run_bench([target], ["limits"], tmp_path / "limits", options=options, example={"x": 1.0})
    findings = summary["findings"]["local-lambda/limits"]
    assert findings["largest_ok_batch"] == 100
    assert findings["stopped_by"] == "Lambda timeout (1 s)" and findings["at_batch"] == 1000


def test_model_size_sweeps_the_targets_own_model_family(forest_bundle: TrainResult, tmp_path: Path) -> None:
    import prediction_core
    from benchmarks.harness.scenarios import model_size
    from prediction_core.bundle import read_manifest
    from prediction_core.training import ensemble_size, import_pipeline

    # A recipe forest is trained again at each size, with its own parameters and seed.
    bundles, skipped = model_size.sweep_bundles(forest_bundle.bundle_dir, (10,))
    assert skipped is None and list(bundles) == [10]
    assert read_manifest(bundles[10])["recipe"] == {"name": "breast-cancer-forest", "params": {"trees": 10}}
    # An imported ensemble keeps its first N members (and its full size), never another model.
    from tests.byo_models import boosting_multiclass

    byo = boosting_multiclass(tmp_path / "models")
    imported = import_pipeline(byo.model, byo.schema, out=tmp_path / "gb", heldout_path=byo.heldout)
    bundles, skipped = model_size.sweep_bundles(imported.bundle_dir, (10, 100))
    assert skipped is None and list(bundles) == [10, 30]
    import joblib

    sizes = [ensemble_size(joblib.load(path / "model.joblib")) for path in bundles.values()]
    assert sizes == [10, 30]
    assert prediction_core.load(bundles[10], "onnx").predict(byo.instances[:2])[0]["label"] in {
        "setosa", "versicolor", "virginica"}


def test_the_local_container_runs_as_a_task_of_its_size(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    """`bench --task-vcpu 0.5` runs the service under a 0.5 vCPU CPU quota (a cgroup, where one can
    be made), so its saturation rate is one task's, and the target says how it ran."""
    from twinserve.commands.bench import SANDBOXES, TargetSettings, _local_container
    from twinserve.emulator.sandbox import detect_cgroup

    settings = TargetSettings(bundle=logreg_bundle.bundle_dir, runtime="onnx", door="native", variants=None,
                              memory_mb=1769, timeout_s=3.0, concurrency=1, workers=1, front_door="http",
                              task_vcpu=0.5, task_memory_gb=1.0, function_stack="", service_stack=None, region=None,
                              out=tmp_path)
    (target,) = _local_container(settings)
    assert isinstance(target, LocalContainerTarget)
    target.start()
    try:
        described = target.describe()
        if detect_cgroup() is None:
            assert described["cpu"].startswith("not limited") and described["task_vcpu"] is None
            return
        assert described["task_vcpu"] == 0.5 and "quota 0.50 vCPU" in described["cpu"]
        pid = target._proc.pid if target._proc else 0
        assert "twinserve/task-" in Path(f"/proc/{pid}/cgroup").read_text()
    finally:
        target.stop()
        while SANDBOXES:
            SANDBOXES.pop().destroy()
