"""The reliability suite: the same checks at two sizes. `make test` runs them small (fast checks);
`make reliability` (TWINSERVE_RELIABILITY=full) runs them at the sizes the README's figures quote
and writes those figures to results/reliability/ (figures.json and figures.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("TWINSERVE_RELIABILITY") == "full"
RESULTS = Path(os.environ.get("TWINSERVE_RELIABILITY_OUT", "results/reliability"))


def scale(fast: int, full: int) -> int:
    """How many cases (or seconds) a check runs: `fast` in make test, `full` in make reliability."""
    return full if FULL else fast


class Figures:
    """Rows of the README's reliability table: what was tried, how many times, what failed."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, area: str, case: str, tried: int, failures: int, figure: str = "") -> None:
        self.rows.append({"area": area, "case": case, "tried": tried, "failures": failures, "figure": figure})


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    if FULL and collected.rows:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "figures.json").write_text(json.dumps(collected.rows, indent=2) + "\n")
        import platform

        lines = [f"Measured here ({platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}): "
                 "local processes on loopback, no AWS.", "",
                 "| area | case | tried | failures | figure |", "|---|---|---|---|---|"]
        lines += [f"| {r['area']} | {r['case']} | {r['tried']:,} | {r['failures']} | {r['figure']} |"
                  for r in collected.rows]
        (RESULTS / "figures.md").write_text("\n".join(lines) + "\n")
