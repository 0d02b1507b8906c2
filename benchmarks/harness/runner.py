"""Run scenarios against targets, write results/<run-id>/, resume what is already done."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from benchmarks.harness.context import Context, Options
from benchmarks.harness.records import RunWriter
from benchmarks.harness.scenarios import SCENARIOS, applicable
from benchmarks.harness.targets import ExampleSource, Target


class ScenarioFailed(RuntimeError):
    """Every request of one or more scenarios failed: their numbers would measure nothing."""


def run_bench(targets: Sequence[Target], scenarios: Sequence[str], out: Path, *, options: Options,
              example: dict[str, Any], repeat: Sequence[str] = (), console: Console | None = None,
              environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each (target, scenario) once; finished pairs are skipped unless named in `repeat`. A scenario
    whose every request failed is not marked finished (the next run tries it again) and, once the
    summary is written, raises ScenarioFailed."""
    console = console or Console()
    writer = RunWriter(out)
    failed: list[str] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=False)
    with progress:
        for target in targets:
            todo = [s for s in scenarios if applicable(s, target)]
            for name in list(repeat) + writer.failed(target.name):
                writer.forget(target.name, name)
            todo = [s for s in todo if not writer.done(target.name, s)]
            if not todo:
                continue
            target.start()
            try:
                description = target.describe()
                target_example = target.example_instance() if isinstance(target, ExampleSource) else example
                for name in todo:
                    total = SCENARIOS[name].steps(options) or None
                    task = progress.add_task(f"{target.name}: {name}", total=total)
                    ctx = Context(target=target, scenario=name, example=target_example, options=options,
                                  progress=_advancer(progress, task))
                    try:
                        findings = SCENARIOS[name].run(ctx)
                    finally:
                        ctx.close()
                    if ctx.unjoined:
                        findings["unjoined_reports"] = ctx.unjoined
                        console.print(f"[yellow]{target.name}/{name}: {ctx.unjoined} of {len(ctx.records)} "
                                      "requests have no REPORT line (not in the log yet, or lost): their cold/warm "
                                      "split and server timings are unknown[/]")
                    writer.write(ctx.records)
                    if ctx.records and not any(200 <= r.status < 300 for r in ctx.records):
                        first = ctx.records[0]
                        failed.append(f"{target.name}/{name}: all {len(ctx.records)} requests failed (first: "
                                      f"status {first.status}{', ' + first.error if first.error else ''})")
                        writer.fail(target.name, name)
                    else:
                        writer.finish(target.name, name, findings, description)
                    progress.update(task, completed=progress.tasks[task].total or len(ctx.records),
                                    total=progress.tasks[task].total or len(ctx.records))
            finally:
                target.stop()
    started = time.perf_counter()
    summary = writer.write_summary(environment)
    console.print(f"summary.json: {sum(g['requests'] for g in summary['groups']):,} requests in "
                  f"{len(summary['groups'])} groups, summarised in {time.perf_counter() - started:.2f} s")
    if failed:
        raise ScenarioFailed("; ".join(failed))
    return summary


def _advancer(progress: Progress, task: TaskID) -> Callable[[int], None]:
    def advance(n: int) -> None:
        progress.advance(task, n)

    return advance
