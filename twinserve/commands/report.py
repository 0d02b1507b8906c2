"""`twinserve report`: turn a benchmark run into report.html, report.md, cost.csv and cost.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from twinserve.output import console, fail, user_errors


@user_errors
def report(
    results: Annotated[Path, typer.Argument(help="A results/<id> folder written by `twinserve bench`.")],
    peak_rps: Annotated[float, typer.Option(help="Peak request rate of the traffic profiles.")] = 20.0,
    slo_ms: Annotated[float, typer.Option(help="p99 latency SLO, ms.")] = 100.0,
    region: Annotated[str, typer.Option(help="Price file region.")] = "us-east-1",
) -> None:
    """Write the decision report for a run and print its verdict."""
    from twinserve.report import build

    if not (results / "summary.json").is_file():
        raise fail(f"{results} has no summary.json; run `twinserve bench --out {results}` first")
    started = time.perf_counter()
    with console.status("writing the report…"):
        data = build(results, peak_rps=peak_rps, slo_ms=slo_ms, region=region)
    console.print(f"report: {results / 'report.html'} (also report.md, cost.csv, cost.json), "
                  f"written in {time.perf_counter() - started:.1f} s")
    for line in data["verdict"]:
        console.print(f"  • {line}", highlight=False, soft_wrap=True)
