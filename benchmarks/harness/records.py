"""What a run writes: results/<run-id>/raw.jsonl (one line per request), summary.json, state.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness.loadgen import Reply
from benchmarks.reportlog import Report
from benchmarks.stats import summarize
from prediction_core.training import library_versions

# perf_counter → wall clock, fixed once per process so every record uses the same offset.
_EPOCH_OFFSET = time.time() - time.perf_counter()
RECORDED_LIBRARIES = ("twinserve", "numpy", "scikit-learn", "onnxruntime", "fastapi", "uvicorn", "gunicorn",
                      "aws-lambda-powertools", "awslambdaric", "mangum", "boto3")


@dataclass
class Record:
    target: str
    scenario: str
    source: str  # "measured-local" | "measured-aws"
    step: Any  # the scenario's parameter for this request (batch size, rate, trees…), or None
    intended_at: float  # epoch seconds
    sent_at: float
    latency_ms: float
    status: int
    cold: bool | None
    env_id: str | None
    request_id: str | None
    server: dict[str, Any] = field(default_factory=dict)  # init/duration/billed ms, memory, handler metrics
    error: str | None = None

    @classmethod
    def from_reply(cls, reply: Reply, *, target: str, scenario: str, source: str, step: Any = None,
                   cold: bool | None = None) -> Record:
        h = reply.headers
        server: dict[str, Any] = {}
        for header, key in (("x-emulator-init-ms", "init_ms"), ("x-emulator-duration-ms", "duration_ms")):
            if header in h:
                server[key] = float(h[header])
        if "x-emulator-metrics" in h:
            server["metrics"] = json.loads(h["x-emulator-metrics"])
        if "x-emulator-function-error" in h:
            server["function_error"] = h["x-emulator-function-error"]
        if "x-emulator-cold" in h and cold is None:
            cold = h["x-emulator-cold"] == "true"
        return cls(target=target, scenario=scenario, source=source, step=step,
                   intended_at=reply.intended_s + _EPOCH_OFFSET, sent_at=reply.sent_s + _EPOCH_OFFSET,
                   latency_ms=reply.latency_ms, status=reply.status, cold=cold, env_id=h.get("x-emulator-env"),
                   request_id=h.get("x-emulator-request-id") or h.get("x-request-id"), server=server,
                   error=reply.error or server.get("function_error"))

    def join_report(self, report: Report) -> None:
        """Add Init Duration, Duration, Billed Duration and Max Memory Used from the REPORT line."""
        self.server.update(report_duration_ms=report.duration_ms, billed_duration_ms=report.billed_duration_ms,
                           max_memory_used_mb=report.max_memory_used_mb, memory_size_mb=report.memory_size_mb)
        for key, value in (("report_init_ms", report.init_duration_ms),
                           ("report_restore_ms", report.restore_duration_ms),
                           ("billed_restore_ms", report.billed_restore_duration_ms),
                           ("report_status", report.status), ("report_error_type", report.error_type)):
            if value is not None:
                self.server[key] = value
        if report.cold:  # Init Duration (on demand) or Restore Duration (SnapStart): a new environment
            self.cold = True
        elif self.cold is None:
            self.cold = False


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "versions": library_versions(RECORDED_LIBRARIES), "git_commit": git_commit()}


class RunWriter:
    """Appends records as they come; remembers finished (target, scenario) pairs so a run resumes."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.raw_path = out / "raw.jsonl"
        self.state_path = out / "state.json"
        self.state: dict[str, Any] = (json.loads(self.state_path.read_text()) if self.state_path.is_file()
                                      else {"run_id": out.name, "created_at": time.time(), "completed": {},
                                            "targets": {}})

    def done(self, target: str, scenario: str) -> bool:
        return f"{target}/{scenario}" in self.state["completed"]

    def forget(self, target: str, scenario: str) -> None:
        """Repeat a scenario: drop its records, its finished mark and its summary."""
        self.state["completed"].pop(f"{target}/{scenario}", None)
        self.state["summarised"] = [k for k in self.state.get("summarised", []) if k != f"{target}/{scenario}"]
        self.state["failed"] = [k for k in self.state.get("failed", []) if k != f"{target}/{scenario}"]
        if self.raw_path.is_file():
            kept = []
            for line in self.raw_path.read_text().splitlines():
                record = json.loads(line)
                if (record["target"], record["scenario"]) != (target, scenario):
                    kept.append(line + "\n")
            self.raw_path.write_text("".join(kept))
        self._save()

    def failed(self, target: str) -> list[str]:
        """Scenarios of this target whose every request failed last time (run again, from scratch)."""
        return [key.split("/", 1)[1] for key in self.state.get("failed", []) if key.split("/", 1)[0] == target]

    def fail(self, target: str, scenario: str) -> None:
        self.state.setdefault("failed", [])
        if f"{target}/{scenario}" not in self.state["failed"]:
            self.state["failed"].append(f"{target}/{scenario}")
        self._save()

    def write(self, records: list[Record]) -> None:
        with self.raw_path.open("a") as fh:
            for record in records:
                fh.write(json.dumps(asdict(record), separators=(",", ":")) + "\n")

    def finish(self, target: str, scenario: str, findings: dict[str, Any], description: dict[str, Any]) -> None:
        self.state["completed"][f"{target}/{scenario}"] = {"finished_at": time.time(), "findings": findings}
        self.state["targets"][target] = description
        self._save()

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str))
        os.replace(tmp, self.state_path)

    def records(self) -> list[dict[str, Any]]:
        if not self.raw_path.is_file():
            return []
        return [json.loads(line) for line in self.raw_path.read_text().splitlines() if line]

    def write_summary(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """summary.json for the whole run. Groups of pairs summarised by an earlier call (and not
        repeated since) are taken from the previous summary.json, so a second `bench` into the same
        run summarises only what it added."""
        previous = self._previous_groups()
        reused = {key for key in self.state.get("summarised", []) if key in self.state["completed"]}
        fresh = [r for r in self.records() if f"{r['target']}/{r['scenario']}" not in reused]
        groups = [g for g in previous if f"{g['target']}/{g['scenario']}" in reused] + summarize_groups(fresh)
        groups.sort(key=lambda g: (g["target"], g["scenario"], json.dumps(g["step"])))
        summary = {"run_id": self.state.get("run_id"), "groups": groups, **_state_parts(self.state)}
        summary["environment"] = {"machine": machine(), **(extra or {})}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        self.state["summarised"] = sorted(self.state["completed"])
        self._save()
        return summary

    def _previous_groups(self) -> list[dict[str, Any]]:
        path = self.out / "summary.json"
        if not path.is_file():
            self.state["summarised"] = []
            return []
        try:
            return list(json.loads(path.read_text()).get("groups", []))
        except ValueError:  # a summary cut short (e.g. the disk filled): summarise everything again
            self.state["summarised"] = []
            return []


def _group_key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["target"], record["scenario"], json.dumps(record["step"])


def _state_parts(state: dict[str, Any]) -> dict[str, Any]:
    findings = {key: value["findings"] for key, value in state.get("completed", {}).items()}
    return {"findings": findings, "targets": state.get("targets", {})}


def summarize_groups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(_group_key(record), []).append(record)
    rows = []
    for (target, scenario, step), group in sorted(groups.items()):
        ok = [r for r in group if 200 <= r["status"] < 300]
        span_s = (max(r["sent_at"] + r["latency_ms"] / 1000 for r in group) - min(r["intended_at"] for r in group)) \
            if len(group) > 1 else None
        row: dict[str, Any] = {
            "target": target, "scenario": scenario, "step": json.loads(step), "source": group[0]["source"],
            "requests": len(group), "ok": len(ok), "errors": sum(1 for r in group if r["status"] >= 500 or
                                                              r["status"] == 0),
            "throttled": sum(1 for r in group if r["status"] == 429),
            "first_failure": next((f"status {r['status']}" + (f" ({r['error']})" if r.get("error") else "")
                                   for r in group if not 200 <= r["status"] < 300), None),
            "cold_starts": sum(1 for r in group if r["cold"]),
            # Answered, but neither the front door nor a REPORT line said whether it was cold.
            "cold_unknown": sum(1 for r in ok if r["cold"] is None),
            "throughput_per_s": len(ok) / span_s if span_s else None,
            "latency_ms": summarize([r["latency_ms"] for r in ok]),
            "latency_cold_ms": summarize([r["latency_ms"] for r in ok if r["cold"]]),
            "latency_warm_ms": summarize([r["latency_ms"] for r in ok if r["cold"] is False]),
        }
        for key in ("init_ms", "report_init_ms", "report_restore_ms", "billed_restore_ms", "duration_ms",
                    "report_duration_ms", "billed_duration_ms", "max_memory_used_mb"):
            values = [r["server"][key] for r in group if key in r["server"]]
            if values:
                row[f"server_{key}"] = summarize(values)
        rows.append(row)
    return rows

