"""`twinserve package lambda|container`: build what gets deployed, and check it against AWS limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinserve.commands.model import DEFAULT_BUNDLE
from twinserve.output import console, err_console, user_errors

app = typer.Typer(help="Build Lambda packages and the container build context.", no_args_is_help=True)
MB = 1024 * 1024


@app.command("lambda")
@user_errors
def package_lambda(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Model bundle directory.")] = DEFAULT_BUNDLE,
    runtime: Annotated[str, typer.Option(help="onnx, sklearn or lean (pure Python, fastest cold start).")] = "onnx",
    door: Annotated[str, typer.Option(help="native (Powertools) or asgi (FastAPI via Mangum).")] = "native",
    arch: Annotated[str, typer.Option(help="x86_64 or arm64.")] = "x86_64",
    python_version: Annotated[str, typer.Option(help="Lambda's Python version.")] = "3.12",
    target: Annotated[str, typer.Option(help="aws (Lambda wheels) or local (this machine, for the emulator).")]
    = "aws",
    fmt: Annotated[str, typer.Option("--format", help="zip, or image (a Lambda container-image context).")]
    = "zip",
    out: Annotated[Path | None, typer.Option(help="Output directory (default build/lambda/<variant>, "
                                                  "with -image for --format image).")] = None,
) -> None:
    """Build a Lambda deployment package and report its size against the 250 MB / 50 MB limits."""
    from twinserve.packaging import build_lambda

    out = out or Path("build/lambda") / (f"{door}-{runtime}-{arch}-{target}" + ("-image" if fmt == "image" else ""))
    with console.status(f"building {door}/{runtime} for {target} ({arch}, Python {python_version})…"):
        report = build_lambda(bundle=bundle, runtime=runtime, door=door, arch=arch, python_version=python_version,
                              target=target, fmt=fmt, out=out)
    table = Table(show_header=False, title=f"Lambda package {out} (measured here)")
    table.add_row("variant", f"door={door} runtime={runtime} arch={report.arch} "
                             f"python={report.python_version} target={target} format={fmt}")
    table.add_row("handler", report.handler or "")
    table.add_row("unzipped", f"{report.unzipped_bytes / MB:,.1f} MB (limit 250 MB)")
    if report.zipped_bytes is not None:
        table.add_row("zipped", f"{report.zipped_bytes / MB:,.1f} MB (direct-upload limit 50 MB)")
        table.add_row("largest", ", ".join(f"{k} {v} MB" for k, v in report.largest_packages_mb.items()))
    if report.bytecode:
        table.add_row("bytecode", report.bytecode)
    table.add_row("report", str(out / "package-report.json"))
    if target == "aws":  # how the CDK app deploys exactly this build instead of building its own
        flags = (f"-c packaging=image -c image_dir={out / 'context'}" if fmt == "image"
                 else f"-c package_dir={out / 'package'}")
        table.add_row("deploy", f"npx cdk deploy TwinserveFunction {flags} -c runtime={runtime} -c door={door} "
                                f"-c arch={report.arch}")
    elif target == "local":
        table.add_row("emulate", f"twinserve emulate --package {out}")
    console.print(table)
    for line in report.advice:
        err_console.print(f"[yellow]advice:[/] {line}", soft_wrap=True)
    if report.over_limit:
        raise typer.Exit(1)


@app.command("container")
@user_errors
def package_container(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Model bundle directory.")] = DEFAULT_BUNDLE,
    runtime: Annotated[str, typer.Option(help="onnx, sklearn or lean (pure Python, fastest cold start).")] = "onnx",
    out: Annotated[Path, typer.Option(help="Build context directory.")] = Path("build/container"),
) -> None:
    """Assemble the container service's docker build context (code, model, pinned requirements)."""
    from twinserve.packaging import build_container_context

    build_container_context(bundle=bundle, runtime=runtime, out=out)
    console.print(f"container build context: {out}\n  docker build --build-arg MODEL_RUNTIME={runtime} "
                  f"-t twinserve-service {out}")
