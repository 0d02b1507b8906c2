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
from benchmarks.harness.targets import Target


def run_bench(targets: Sequence[Target], scenarios: Sequence[str], out: Path, *, options: Options,
              example: dict[str, Any], repeat: Sequence[str] = (), console: Console | None = None,
              environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each (target, scenario) once; finished pairs are skipped unless named in `repeat`."""
    console = console or Console()
    writer = RunWriter(out)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=False)
    with progress:
        for target in targets:
            todo = [s for s in scenarios if applicable(s, target)]
            for name in repeat:
                writer.forget(target.name, name)
            todo = [s for s in todo if not writer.done(target.name, s)]
            if not todo:
                continue
            target.start()
            try:
                description = target.describe()
                for name in todo:
                    total = SCENARIOS[name].steps(options) or None
                    task = progress.add_task(f"{target.name}: {name}", total=total)
                    ctx = Context(target=target, scenario=name, example=example, options=options,
                                  progress=_advancer(progress, task))
                    try:
                        findings = SCENARIOS[name].run(ctx)
                    finally:
                        ctx.close()
                    writer.write(ctx.records)
                    writer.finish(target.name, name, findings, description)
                    progress.update(task, completed=progress.tasks[task].total or len(ctx.records),
                                    total=progress.tasks[task].total or len(ctx.records))
            finally:
                target.stop()
    started = time.perf_counter()
    summary = writer.write_summary(environment)
    console.print(f"summary.json: {sum(g['requests'] for g in summary['groups']):,} requests in "
                  f"{len(summary['groups'])} groups, summarised in {time.perf_counter() - started:.2f} s")
    return summary


def _advancer(progress: Progress, task: TaskID) -> Callable[[int], None]:
    def advance(n: int) -> None:
        progress.advance(task, n)

    return advance
