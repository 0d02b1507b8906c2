"""package-report.json: what a build produced, written beside it, and the one reader of it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_NAME = "package-report.json"


@dataclass
class PackageReport:
    door: str
    runtime: str
    arch: str
    python_version: str
    target: str  # "aws" (manylinux wheels for Lambda) or "local" (this machine, for the emulator)
    handler: str | None
    requirements: list[str]
    unzipped_bytes: int = 0
    zipped_bytes: int | None = None
    largest_packages_mb: dict[str, float] = field(default_factory=dict)
    over_limit: bool = False
    advice: list[str] = field(default_factory=list)
    package_dir: str = ""
    zip_path: str | None = None
    bytecode: str = ""
    code_sha256: str = ""  # of the project code shipped (see code_fingerprint)

    def write(self, out: Path) -> Path:
        path = out / REPORT_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def read_package_report(out: Path) -> dict[str, Any] | None:
    """The report of the package built into `out`, or None when there is none (or it is unreadable)."""
    path = out / REPORT_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
