"""A scenario that measured nothing says so: not marked done, a non-zero exit, run again next time;
and on AWS, limits are read from what the front door and the REPORT line say."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness.context import Options
from benchmarks.harness.records import Record
from benchmarks.harness.runner import ScenarioFailed, run_bench
from benchmarks.harness.scenarios.limits import classify
from benchmarks.reportlog import Report


@dataclass
class NothingListens:
    """A target whose every request fails: nothing listens on its port."""

    port: int
    name: str = "dead"
    kind: str = "container"
    source: str = "measured-local"
    host: str = "127.0.0.1"
    path_prefix: str = ""
    tls: bool = False
    timeout_s: float = 2.0

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"target": self.name}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scenario_whose_every_request_failed_is_not_done(tmp_path: Path) -> None:
    target = NothingListens(_closed_port())
    options = Options(warm_requests=5)
    with pytest.raises(ScenarioFailed, match="dead/warm: all 5 requests failed"):
        run_bench([target], ["warm"], tmp_path, options=options, example={})  # type: ignore[list-item]
    state = json.loads((tmp_path / "state.json").read_text())
    assert "dead/warm" not in state["completed"] and state["failed"] == ["dead/warm"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(g["requests"], g["ok"]) for g in summary["groups"]] == [(5, 0)]  # counted, not dropped
    with pytest.raises(ScenarioFailed):  # tried again from scratch, not appended to
        run_bench([target], ["warm"], tmp_path, options=options, example={})  # type: ignore[list-item]
    assert len((tmp_path / "raw.jsonl").read_text().splitlines()) == 5


def _record(status: int, **server: Any) -> Record:
    return Record(target="aws-lambda", scenario="limits", source="measured-aws", step=1, intended_at=0.0,
                  sent_at=0.0, latency_ms=1.0, status=status, cold=None, env_id=None, request_id="r", server=server)


@pytest.mark.parametrize(("status", "server", "limit"), [
    (200, {}, None),
    (413, {}, "payload limit (6 MB, Lambda (synchronous))"),
    (504, {"report_status": "timeout"}, "Lambda timeout (10 s)"),
    (502, {"report_status": "error", "report_error_type": "Runtime.OutOfMemory"}, "Lambda memory"),
    (503, {}, "front door timeout (API Gateway 29-30 s, or the load balancer's)"),
    (500, {"report_status": "error", "report_error_type": "Runtime.ExitError"},
     "function error Runtime.ExitError (HTTP 500 from the front door)"),
    (502, {}, "function error (HTTP 502 from the front door)"),
])
def test_aws_limits_are_classified_from_the_front_door_and_the_report_line(status: int, server: dict[str, Any],
                                                                           limit: str | None) -> None:
    assert classify(_record(status, **server), 10.0) == limit


def test_requests_without_a_report_line_are_counted_for_lambda_only() -> None:
    from benchmarks.harness.context import Context
    from benchmarks.harness.loadgen import Reply

    for kind, expected in (("lambda", 2), ("container", 0)):
        target = NothingListens(0, kind=kind)
        ctx = Context(target=target, scenario="warm", example={}, options=Options())  # type: ignore[arg-type]
        try:
            for rid in ("a", "b"):
                ctx.record(Reply(200, {"x-request-id": rid}, b"{}", 0.0, 0.0, 0.001))
            assert ctx.join_reports() == expected and ctx.unjoined == expected
        finally:
            ctx.close()
