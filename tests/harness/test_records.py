"""The run writer: a second `bench` into the same run summarises only what it added."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import records
from benchmarks.harness.records import Record, RunWriter


def _records(target: str, scenario: str, latencies: list[float]) -> list[Record]:
    return [Record(target=target, scenario=scenario, source="measured-local", step=None, intended_at=float(i),
                   sent_at=float(i), latency_ms=ms, status=200, cold=False, env_id=None, request_id=str(i))
            for i, ms in enumerate(latencies)]


def test_second_summary_reuses_finished_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = RunWriter(tmp_path)
    writer.write(_records("t", "warm", [1.0, 2.0, 3.0]))
    writer.finish("t", "warm", {}, {})
    first = writer.write_summary()
    seen: list[list[str]] = []
    real = records.summarize_groups

    def spy(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen.append([r["scenario"] for r in rows])
        return real(rows)

    monkeypatch.setattr(records, "summarize_groups", spy)
    again = RunWriter(tmp_path)  # a new `bench` call into the same folder
    again.write(_records("t", "burst", [5.0, 6.0]))
    again.finish("t", "burst", {}, {})
    second = again.write_summary()
    assert seen == [["burst", "burst"]]  # the warm group was not summarised again
    assert [g["scenario"] for g in second["groups"]] == ["burst", "warm"]
    assert second["groups"][1] == first["groups"][0]


def test_repeated_pair_is_summarised_again(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path)
    writer.write(_records("t", "warm", [1.0, 2.0, 3.0]))
    writer.finish("t", "warm", {}, {})
    writer.write_summary()
    writer.forget("t", "warm")
    writer.write(_records("t", "warm", [10.0]))
    writer.finish("t", "warm", {}, {})
    summary = writer.write_summary()
    assert [g["latency_ms"]["count"] for g in summary["groups"]] == [1]
    assert json.loads((tmp_path / "summary.json").read_text())["groups"][0]["latency_ms"]["max"] == 10.0
