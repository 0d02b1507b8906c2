"""The CLI with bad input, every command and option from its own command tree: bad numbers (-5,
NaN, infinity), missing input paths and unknown names. Counted for the README's table: tracebacks
must be 0 (the tests in tests/cli check each case's one-line message)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.cli.test_bad_input import CASES, NAME_CASES, PATH_CASES, _invocation, _leaves
from tests.reliability.conftest import Figures
from twinserve.cli import app


def test_no_command_shows_a_traceback_for_bad_input(tmp_path: Path, figures: Figures) -> None:
    runner = CliRunner()
    tree = dict(_leaves(typer.main.get_command(app)))
    tracebacks, wrong_code = [], []
    invocations = [_invocation(path, tree[path], tmp_path, flag, bad) for path, flag, bad in CASES]
    invocations += [[*path, param.opts[0] if param.param_type_name == "option" else "", str(tmp_path / "missing")]
                    for path, param in PATH_CASES if param.param_type_name == "option" and not param.required]
    invocations += [[*path, "--target", "local-lambda", flag, "bogus-name"] if path == ("bench",) and flag != "--target"
                    else [*path, *(["--hours", "1"] if path == ("cost", "fargate") else []), flag, "bogus-name"]
                    for path, flag in NAME_CASES if not [p for p in tree[path].params if p.required]]
    for args in invocations:
        result = runner.invoke(app, [a for a in args if a])
        if "Traceback" in result.output or (result.exception and not isinstance(result.exception, SystemExit)):
            tracebacks.append(args)
        elif result.exit_code != 2:
            wrong_code.append((args, result.exit_code))
    figures.add("CLI", "every command: bad numbers, missing input paths, unknown names", len(invocations),
                len(tracebacks),
                "tracebacks; every one exits 2 with one line")
    assert tracebacks == [] and wrong_code == [], (tracebacks[:3], wrong_code[:3])
