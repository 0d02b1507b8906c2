"""`twinserve emulate`: the local Lambda emulator in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from twinserve.output import console, fail, user_errors


def resolve_package(package: Path, handler: str | None) -> tuple[Path, str, dict[str, object]]:
    """(code directory, handler, package report) for a `twinserve package lambda` output or a plain folder."""
    from twinserve.packaging import REPORT_NAME, read_package_report

    report = read_package_report(package)
    if report is not None:
        local = f"{sys.version_info.major}.{sys.version_info.minor}"
        if report.get("target") != "local" or report.get("python_version") != local:
            raise fail(f"{package} was built for {report.get('target')} / Python {report.get('python_version')}; "
                       f"its binary wheels will not import into this Python {local}. Build one for this machine: "
                       f"twinserve package lambda --runtime {report.get('runtime')} --door {report.get('door')} "
                       "--target local")
        return Path(str(report["package_dir"])), handler or str(report["handler"]), report
    if handler is None:
        raise fail(f"{package} has no {REPORT_NAME}; pass --handler module.function")
    return package, handler, {}


@user_errors
def emulate(
    package: Annotated[Path, typer.Option(help="`twinserve package lambda --target local` output, or a code folder.")],
    handler: Annotated[str | None, typer.Option(help="module.function (default: from the package report).")] = None,
    function_name: Annotated[str, typer.Option(help="Function name for the Invoke API and logs.")] = "predict",
    memory_mb: Annotated[int, typer.Option(help="Memory, 128-10240 MB (CPU share follows it).")] = 1024,
    timeout_s: Annotated[float, typer.Option(help="Function timeout, 1-900 s.")] = 3.0,
    concurrency: Annotated[int, typer.Option(help="Concurrency limit; requests beyond it are throttled.")] = 10,
    keep_alive_s: Annotated[float, typer.Option(help="Idle environments are reaped after this (0: always cold).")]
    = 300.0,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API Gateway emulation and the Invoke API.")] = 9000,
    event: Annotated[str, typer.Option(help="The front door: http (HTTP API payload v2), rest (REST API v1), url "
                                            "(function URL) or alb (Application Load Balancer).")] = "http",
    log_file: Annotated[Path | None, typer.Option(help="Also write START/END/REPORT and function logs here.")]
    = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE for the function (repeatable).")] = None,
) -> None:
    """Run a Lambda package locally on the real runtime client, with Lambda's execution model."""
    from twinserve.emulator.config import FunctionConfig
    from twinserve.emulator.frontdoor import INTEGRATION_TIMEOUT_S
    from twinserve.emulator.runner import Emulator, new_event_loop

    if event not in INTEGRATION_TIMEOUT_S:
        raise fail(f"--event {event!r} is not one of {', '.join(INTEGRATION_TIMEOUT_S)}")
    if log_file is not None and not log_file.parent.is_dir():
        raise fail(f"--log-file {log_file}: its folder {log_file.parent} does not exist")
    code_dir, handler_name, report = resolve_package(package, handler)
    environment = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--env {item!r} is not KEY=VALUE")
        environment[key] = value
    if report.get("runtime"):
        environment.setdefault("MODEL_RUNTIME", str(report["runtime"]))
    config = FunctionConfig(package=code_dir, handler=handler_name, function_name=function_name,
                            memory_mb=memory_mb, timeout_s=timeout_s, concurrency=concurrency,
                            keep_alive_s=keep_alive_s, environment=environment, log_file=log_file,
                            echo=sys.stdout, package_report=report)
    try:
        config.validate()
    except ValueError as exc:
        raise fail(str(exc)) from None
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        try:
            runner.run(_run(Emulator(config, host=host, port=port, event_format=event)))
        except OSError as exc:  # the listening socket: address in use, not permitted, unknown host
            raise fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None


def _table(emulator: object) -> Table:
    from twinserve.emulator.runner import Emulator

    assert isinstance(emulator, Emulator)
    service = emulator.service
    c = service.counters
    table = Table(title=f"{emulator.url}  requests {c['requests']}  cold {c['cold_starts']}  "
                        f"throttled {c['throttled']}  errors {c['errors']}", title_justify="left")
    for col in ("environment", "state", "invocations", "pid", "idle s"):
        table.add_column(col)
    for row in service.pool.snapshot():
        table.add_row(row["env"], row["state"], str(row["invocations"]), str(row["pid"]),
                      "" if row["idle_s"] is None else str(row["idle_s"]))
    return table


async def _run(emulator: object) -> None:
    from twinserve.emulator.runner import Emulator

    assert isinstance(emulator, Emulator)
    await emulator.start()
    info = emulator.service.describe()
    console.print(f"[bold]Lambda emulator[/] {info['function_name']} ({info['handler']}) on {emulator.url}\n"
                  f"  memory {info['memory_mb']} MB ({info['memory_enforcement']}), {info['cpu']}, timeout "
                  f"{info['timeout_s']} s, concurrency {info['concurrency']}, keep-alive {info['keep_alive_s']} s, "
                  f"Python {info['python']}\n"
                  f"  curl -s {emulator.url}/predict -H 'content-type: application/json' -d @request.json\n"
                  f"  Invoke API: boto3.client('lambda', endpoint_url='{emulator.url}')", highlight=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if console.is_terminal:
            # A live table of environments for a person; log lines print above it.
            with Live(_table(emulator), console=console, refresh_per_second=2, transient=True) as live:
                while not stop.is_set():
                    live.update(_table(emulator))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
        else:
            # Piped or redirected: plain log lines, no display (rich would render every line).
            await stop.wait()
    finally:
        await emulator.close()
        console.print("emulator stopped; all environments shut down")
