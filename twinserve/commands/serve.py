"""`twinserve serve`: run the container service exactly as the container's entrypoint does."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from prediction_core.runtimes import RUNTIMES
from twinserve.commands.model import DEFAULT_BUNDLE
from twinserve.output import fail, user_errors


@user_errors
def serve(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Model bundle directory.")] = DEFAULT_BUNDLE,
    runtime: Annotated[str, typer.Option(help="onnx, sklearn or lean.")] = "onnx",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per CPU).")] = 0,
) -> None:
    """Serve the model over HTTP with gunicorn + uvicorn workers (`python -m container_service`)."""
    from prediction_core.bundle import read_manifest

    read_manifest(bundle)  # a clear error here beats one from every worker
    if runtime not in RUNTIMES:
        raise fail(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    env = {**os.environ, "MODEL_BUNDLE": str(bundle.resolve()), "MODEL_RUNTIME": runtime,
           "TWINSERVE_HOST": host, "TWINSERVE_PORT": str(port), "TWINSERVE_WORKERS": str(workers)}
    os.execve(sys.executable, [sys.executable, "-m", "container_service"], env)
