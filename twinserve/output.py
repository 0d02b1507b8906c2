"""Console helpers shared by the CLI commands: one place for errors and JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from prediction_core.exceptions import TwinserveError
from twinserve.bounds import problem

# Wide when printing to a file or pipe (logs, CI), as the result tables have many columns.
console = Console() if Console().is_terminal else Console(width=160)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes: 2 = the user's input or files are wrong (as for usage errors), 1 = anything else.
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def user_errors(func: F) -> F:
    """Check every numeric option against the CLI's bounds (twinserve/bounds.py), then turn the
    core's errors into a one-line message and exit code 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            bad = problem(name, value)
            if bad is not None:
                raise fail(bad)
        try:
            return func(*args, **kwargs)
        except TwinserveError as exc:
            raise fail(exc.message) from None
        except OSError as exc:  # a file or folder the command was pointed at: one line, not a traceback
            where = f": {exc.filename}" if exc.filename else ""
            raise fail(f"{exc.strerror or exc}{where}", code=1) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
