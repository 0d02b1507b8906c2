"""Lambda's platform log lines (START / END / REPORT / INIT_REPORT): written by the emulator,
read from the emulator's log and from CloudWatch Logs alike (one parser for both).

Format as AWS writes it, fields separated by tabs:
  REPORT RequestId: 8f507cfc-…\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\t
  Max Memory Used: 56 MB\tInit Duration: 130.49 ms\t
Since 2025-08-01 INIT is billed for every function: Billed Duration = ceil(Init + Duration) on a cold
start (e.g. 1293.83 ms + 1049.63 ms → 2344 ms), ceil(Duration) otherwise, at 1 ms granularity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None  # SnapStart: restoring the snapshot instead of INIT
    billed_restore_duration_ms: int | None = None
    status: str | None = None  # AWS writes "timeout" or "error" here when the invocation failed
    error_type: str | None = None  # with Status: error, e.g. Runtime.OutOfMemory

    @property
    def cold(self) -> bool:
        return self.init_duration_ms is not None or self.restore_duration_ms is not None


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    return max(1, math.ceil(duration_ms + (init_duration_ms or 0.0)))


def format_report(report: Report) -> str:
    parts = [f"REPORT RequestId: {report.request_id}", f"Duration: {report.duration_ms:.2f} ms",
             f"Billed Duration: {report.billed_duration_ms} ms", f"Memory Size: {report.memory_size_mb} MB",
             f"Max Memory Used: {report.max_memory_used_mb} MB"]
    if report.init_duration_ms is not None:
        parts.append(f"Init Duration: {report.init_duration_ms:.2f} ms")
    if report.restore_duration_ms is not None:
        parts.append(f"Restore Duration: {report.restore_duration_ms:.2f} ms")
    if report.billed_restore_duration_ms is not None:
        parts.append(f"Billed Restore Duration: {report.billed_restore_duration_ms} ms")
    if report.status is not None:
        parts.append(f"Status: {report.status}")
    if report.error_type is not None:
        parts.append(f"Error Type: {report.error_type}")
    return "\t".join(parts) + "\t"


def format_start(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def format_end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def format_init_report(init_duration_ms: float, *, phase: str, status: str) -> str:
    return f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"


_FIELD = r"{name}:\s+([\d.]+)\s+{unit}"
_PATTERNS = {
    "duration_ms": re.compile(_FIELD.format(name=r"(?<!Billed )(?<!Init )(?<!Restore )Duration", unit="ms")),
    "billed_duration_ms": re.compile(_FIELD.format(name=r"(?<!Restore )Billed Duration", unit="ms")),
    "memory_size_mb": re.compile(_FIELD.format(name="Memory Size", unit="MB")),
    "max_memory_used_mb": re.compile(_FIELD.format(name="Max Memory Used", unit="MB")),
    "init_duration_ms": re.compile(_FIELD.format(name="Init Duration", unit="ms")),
    "restore_duration_ms": re.compile(_FIELD.format(name="(?<!Billed )Restore Duration", unit="ms")),
    "billed_restore_duration_ms": re.compile(_FIELD.format(name="Billed Restore Duration", unit="ms")),
}
_STATUS = re.compile(r"Status:\s+(\w+)")
_ERROR_TYPE = re.compile(r"Error Type:\s+([\w.]+)")
_REQUEST_ID = re.compile(r"REPORT RequestId:\s+([0-9A-Za-z-]+)")


def parse_report(line: str) -> Report | None:
    """A Report from one REPORT line (tab- or space-separated), or None for any other line."""
    match = _REQUEST_ID.search(line)
    if not match:
        return None
    found: dict[str, float] = {}
    for name, pattern in _PATTERNS.items():
        m = pattern.search(line)
        if m:
            found[name] = float(m.group(1))
    required = ("duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb")
    if any(name not in found for name in required):
        return None
    return Report(request_id=match.group(1), duration_ms=found["duration_ms"],
                  billed_duration_ms=int(found["billed_duration_ms"]), memory_size_mb=int(found["memory_size_mb"]),
                  max_memory_used_mb=int(found["max_memory_used_mb"]),
                  init_duration_ms=found.get("init_duration_ms"), restore_duration_ms=found.get("restore_duration_ms"),
                  billed_restore_duration_ms=_int_or_none(found.get("billed_restore_duration_ms")),
                  status=_group_or_none(_STATUS.search(line)), error_type=_group_or_none(_ERROR_TYPE.search(line)))


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def _group_or_none(match: re.Match[str] | None) -> str | None:
    return match.group(1) if match else None
