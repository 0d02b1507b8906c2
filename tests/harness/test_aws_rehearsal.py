"""`twinserve bench --target aws` through the local AWS rehearsal (moto for the control plane and
logs, the emulator as the execution, an API Gateway stand-in that invokes what the alias points at).
With a forced cold start that only changed $LATEST, the alias would still point at the deployed
version and every "cold" request would be warm: this test would fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from prediction_core.training import TrainResult
from tests.aws_rehearsal import Rehearsal, rehearsal_env
from twinserve.cli import app
from twinserve.packaging import DOOR_HANDLERS, ensure_local_package, read_package_report


@contextmanager
def rehearse(bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory, **names: str) -> Iterator[Rehearsal]:
    """The native ONNX package of `bundle`, deployed to a fresh AWS rehearsal (credentials faked)."""
    package_root = ensure_local_package(bundle.bundle_dir, "native", "onnx", root=tmp_path_factory.mktemp("lambda"))
    code = Path(str((read_package_report(package_root) or {})["package_dir"]))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in rehearsal_env().items():
            mp.setenv(key, value)
        with mock_aws(), Rehearsal(package=code, handler=DOOR_HANDLERS["native"], **names) as aws:
            yield aws


@pytest.fixture(scope="module")
def rehearsed_run(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("results") / "aws"
    with rehearse(logreg_bundle, tmp_path_factory) as aws:
        deployed = aws.alias_version()
        result = CliRunner().invoke(app, ["bench", "--target", "aws", "--scenario", "cold-start", "--scenario",
                                          "warm", "--scenario", "burst", "--quick", "--out", str(out)])
        yield {"result": result, "out": out, "aws": aws, "deployed": deployed,
               "alias_after": aws.alias_version(), "versions_after": aws.published_versions()}


def _group(summary: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    return [g for g in summary["groups"] if g["scenario"] == scenario]


def test_bench_runs_through_the_rehearsal(rehearsed_run: dict[str, Any]) -> None:
    assert rehearsed_run["result"].exit_code == 0, rehearsed_run["result"].output


def test_every_forced_cold_start_is_cold_with_init_from_cloudwatch(rehearsed_run: dict[str, Any]) -> None:
    out = rehearsed_run["out"]
    records = [json.loads(line) for line in (out / "raw.jsonl").read_text().splitlines()]
    cold = [r for r in records if r["scenario"] == "cold-start"]
    assert len(cold) == 3  # --quick forces three
    assert all(r["cold"] is True and r["server"]["report_init_ms"] > 0 for r in cold)
    state = json.loads((out / "state.json").read_text())
    findings = state["completed"]["aws-lambda/cold-start"]["findings"]
    assert (findings["forced"], findings["cold_starts"], findings["cold_unknown"]) == (3, 3, 0)
    assert "unjoined_reports" not in findings


def test_warm_requests_are_warm_and_the_summary_is_labelled_measured_aws(rehearsed_run: dict[str, Any]) -> None:
    summary = json.loads((rehearsed_run["out"] / "summary.json").read_text())
    warm = _group(summary, "warm")
    assert sum(g["cold_starts"] for g in warm) == 0 and sum(g["cold_unknown"] for g in warm) == 0
    assert sum(g["ok"] for g in warm) == 50
    assert {g["source"] for g in summary["groups"]} == {"measured-aws"}
    cold = _group(summary, "cold-start")
    assert sum(g["server_report_init_ms"]["count"] for g in cold) == 3


def test_a_burst_after_a_forced_cold_start_starts_environments(rehearsed_run: dict[str, Any]) -> None:
    summary = json.loads((rehearsed_run["out"] / "summary.json").read_text())
    burst = _group(summary, "burst")
    assert sum(g["ok"] for g in burst) == 8
    assert sum(g["cold_starts"] for g in burst) >= 1  # a new version: at least one new environment


def test_the_run_puts_the_alias_back_and_deletes_what_it_published(rehearsed_run: dict[str, Any]) -> None:
    assert rehearsed_run["alias_after"] == rehearsed_run["deployed"]
    assert rehearsed_run["versions_after"] == {"$LATEST", rehearsed_run["deployed"]}
    # Five versions answered through the API: the deployed one (GET /model, for the example request),
    # one per forced cold start (three) and one for the burst.
    assert len(set(rehearsed_run["aws"].invoked_versions)) == 5


def test_cost_inputs_from_the_run_say_measured_on_aws(rehearsed_run: dict[str, Any]) -> None:
    from cost_model.from_results import inputs_from_results

    inputs = inputs_from_results(rehearsed_run["out"])
    for field in ("lambda_init_ms", "lambda_cold_p50_ms", "lambda_warm_p99_ms", "lambda_duration_ms"):
        assert "measured-aws" in inputs.provenance[field], (field, inputs.provenance[field])
    assert inputs.lambda_memory_mb == 1024  # the deployed function's configured memory


@pytest.fixture(scope="module")
def rehearsed_sweep(logreg_bundle: TrainResult, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("results") / "aws-sweep"
    with rehearse(logreg_bundle, tmp_path_factory, stack="SweepFunction", function="sweep-predict") as aws:
        deployed = aws.alias_version()
        result = CliRunner().invoke(app, ["bench", "--target", "aws", "--function-stack", "SweepFunction",
                                          "--scenario", "memory-sweep", "--quick", "--out", str(out)])
        latest = aws.lam.get_function_configuration(FunctionName="sweep-predict")
        memory_per_version = {v: e.service.config.memory_mb for v, e in aws.emulators.items()}
        yield {"result": result, "out": out, "deployed": deployed, "alias_after": aws.alias_version(),
               "latest_memory": latest["MemorySize"], "memory_per_version": memory_per_version}


def test_the_memory_sweep_runs_on_aws_through_the_rehearsal(rehearsed_sweep: dict[str, Any]) -> None:
    assert rehearsed_sweep["result"].exit_code == 0, rehearsed_sweep["result"].output
    state = json.loads((rehearsed_sweep["out"] / "state.json").read_text())
    findings = state["completed"]["aws-lambda/memory-sweep"]["findings"]
    assert findings["source"] == "measured-aws"
    assert sorted(map(int, findings["by_memory"])) == [512, 1024, 1769, 3008]
    for figures in findings["by_memory"].values():
        assert figures["init_p50_ms"] > 0 and figures["duration_p50_ms"] > 0 and figures["failures"] == {}
    # Each size ran on a version published with that memory, behind the alias.
    assert sorted(rehearsed_sweep["memory_per_version"].values()) == [512, 1024, 1024, 1769, 3008]
    assert rehearsed_sweep["alias_after"] == rehearsed_sweep["deployed"]
    assert rehearsed_sweep["latest_memory"] == 1024


def test_cost_compare_uses_the_tuned_memory(rehearsed_sweep: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["cost", "compare", "--results", str(rehearsed_sweep["out"]), "--slo-ms", "1000",
                                      "--strategy", "cheapest", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    chosen = data["power_tuning"]["memory_mb"]
    assert chosen in (512, 1024, 1769, 3008)
    assert data["inputs"]["lambda_memory_mb"] == chosen
    assert data["inputs"]["provenance"]["lambda_memory_mb"].startswith("memory sweep (measured-aws), strategy cheapest")
