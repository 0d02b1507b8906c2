"""The memory sweep (power tuning) on the emulator: CPU follows memory as on Lambda, the quota is
capped at this machine's cores and says so, and every size is measured, priced and chosen from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness.context import Options
from benchmarks.harness.runner import run_bench
from benchmarks.harness.targets import LocalLambdaTarget

FIXTURES = Path(__file__).resolve().parents[1] / "lambda_fixtures"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("results") / "sweep"
    target = LocalLambdaTarget(package=FIXTURES, handler="handlers.cpu_bound", timeout_s=60, memory_mb=1024,
                               name="local-lambda")
    options = Options(sweep_memory_mb=(512, 1769, 5120), sweep_cold_starts=1, sweep_warm_requests=3)
    run_bench([target], ["memory-sweep"], out, options=options, example={})
    state = json.loads((out / "state.json").read_text())
    return {"out": out, "findings": state["completed"]["local-lambda/memory-sweep"]["findings"], "target": target}


def test_cpu_follows_memory_as_on_lambda(sweep: dict[str, Any]) -> None:
    by = sweep["findings"]["by_memory"]
    # The quota each size was given: memory / 1,769 vCPU, as AWS allocates it.
    assert by["512"]["vcpus"] == pytest.approx(512 / 1769) and by["1769"]["vcpus"] == pytest.approx(1.0)
    assert by["512"]["cpu"] == "cgroup-v1 quota 0.29 vCPU" or by["512"]["cpu"] == "cgroup-v2 quota 0.29 vCPU"
    # …and what it does to a CPU-bound handler: 1769/512 = 3.46 times as long in theory. On this
    # shared 2-core machine CFS bandwidth control measured 3.3-5.1 (slices stranded on the other
    # core, quota unused while another process holds the CPU), so a unit test checks only that the
    # slowdown is clearly proportional; `python -m benchmarks.memory_sweep_bench` measures the
    # ratio against the ±25% target with medians over rounds.
    ratio = by["512"]["duration_p50_ms"] / by["1769"]["duration_p50_ms"]
    assert 2.5 <= ratio <= 6.0, ratio


def test_a_quota_over_the_machine_is_capped_and_said(sweep: dict[str, Any]) -> None:
    by = sweep["findings"]["by_memory"]
    assert by["5120"]["cpu_capped"] is True and by["1769"]["cpu_capped"] is False
    assert by["5120"]["vcpus_on_aws"] == 2.89 and by["5120"]["vcpus"] <= 2
    assert "5120 MB" in sweep["findings"]["cpu_note"]


def test_every_size_has_its_figures_and_the_function_gets_its_memory_back(sweep: dict[str, Any]) -> None:
    for figures in sweep["findings"]["by_memory"].values():
        assert figures["init_p50_ms"] > 0 and figures["billed_p50_ms"] >= figures["duration_p50_ms"]
        assert figures["max_memory_used_mb"] > 0 and figures["failures"] == {}
        # Four requests, each counted as warm or cold (a slow return to /next can make one more cold).
        assert len(figures["warm_latency_ms"]) + len(figures["cold_latency_ms"]) == 4
        assert len(figures["cold_latency_ms"]) >= 1
    assert sweep["target"].memory_mb == 1024


def test_an_out_of_memory_size_is_a_failure_not_a_gap(tmp_path: Path) -> None:
    target = LocalLambdaTarget(package=FIXTURES, handler="handlers.hog_200", timeout_s=10, memory_mb=1024,
                               name="local-lambda")
    options = Options(sweep_memory_mb=(128, 512), sweep_cold_starts=1, sweep_warm_requests=1)
    run_bench([target], ["memory-sweep"], tmp_path, options=options, example={})
    by = json.loads((tmp_path / "state.json").read_text())["completed"]["local-lambda/memory-sweep"]["findings"][
        "by_memory"]
    assert by["128"]["failures"] == {"Runtime.OutOfMemory": 2}
    assert by["512"]["failures"] == {}
