"""Bad input never ends in a traceback (issue #20, item 10). The first test walks every command and
every numeric option of the CLI from its own command tree, so a flag added later is covered too;
the others are the cases a probe found."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from prediction_core.training import TrainResult
from twinserve.bounds import BOUNDS
from twinserve.cli import app

runner = CliRunner()


# Typer 0.29 builds its own command classes (not click's): walked by their attributes.
def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):
        return [leaf for name, sub in sorted(command.commands.items()) for leaf in _leaves(sub, (*path, name))]
    return [(path, command)]


def _annotation(param: Any) -> Any:
    return getattr(getattr(param, "type_descriptor", None), "annotation", None)


def _numeric(param: Any) -> bool:
    return _annotation(param) in (int, float)


def _valid(param: Any, tmp: Path) -> str:
    if _numeric(param):
        low = BOUNDS.get(param.name or "", (1, None, ""))[0]
        return str(low if low is not None and low > 0 else 1)
    if _annotation(param) in (Path, Path | None):
        return str(tmp)
    return "x"


def _invocation(path: tuple[str, ...], command: Any, tmp: Path, flag: str, bad: str) -> list[str]:
    args = list(path)
    for param in command.params:
        if param.param_type_name == "option" and param.required and param.opts[0] != flag:
            args += [param.opts[0], _valid(param, tmp)]
        elif param.param_type_name == "argument" and param.required:
            args.append(_valid(param, tmp))
    return [*args, flag, bad]


CASES = [(path, param.opts[0], bad) for path, command in _leaves(typer.main.get_command(app))
         for param in command.params if param.param_type_name == "option" and _numeric(param)
         for bad in ("-5", "nan", "inf")]


def test_the_walk_finds_the_options() -> None:
    flags = {flag for _, flag, _ in CASES}
    assert {"--memory-mb", "--port", "--requests", "--workers", "--cold-fraction", "--c", "--tasks"} <= flags
    assert len({path for path, _, _ in CASES}) >= 10


@pytest.mark.parametrize(("path", "flag", "bad"), CASES, ids=[f"{' '.join(p)} {f} {b}" for p, f, b in CASES])
def test_every_numeric_option_refuses_bad_values_in_one_line(tmp_path: Path, path: tuple[str, ...], flag: str,
                                                               bad: str) -> None:
    command = dict(_leaves(typer.main.get_command(app)))[path]
    result = runner.invoke(app, _invocation(path, command, tmp_path, flag, bad))
    assert result.exit_code == 2, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    assert flag in result.output, result.output
    if "Invalid value" not in result.output:  # ours, not click's own parse error
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output


def _run(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def test_predict_input_that_is_binary_or_nested_too_deeply(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in ((binary, "is not UTF-8 text"), (deep, "nested too deeply")):
        result = _run("predict", "--bundle", str(logreg_bundle.bundle_dir), "--input", str(path))
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_emulate_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text("def handler(e, c):\n    return {}\n")
    base = ["emulate", "--package", str(tmp_path), "--handler", "h.handler"]
    bogus = _run(*base, "--event", "bogus")
    assert bogus.exit_code == 2 and "--event 'bogus' is not one of http, rest" in bogus.output
    folder = _run(*base, "--log-file", str(tmp_path / "nowhere" / "log.txt"))
    assert folder.exit_code == 2 and "--log-file" in folder.output and "does not exist" in folder.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = _run(*base, "--port", str(taken.getsockname()[1]))
    assert busy.exit_code == 2 and "cannot listen there" in busy.output and "Traceback" not in busy.output


def test_bench_checks_the_bundle_before_starting_anything(tmp_path: Path) -> None:
    result = _run("bench", "--target", "local-container", "--bundle", str(tmp_path / "none"), "--out",
                  str(tmp_path / "r"))
    assert result.exit_code == 2 and "--bundle" in result.output and "twinserve train" in result.output
    assert not (tmp_path / "r").exists()


def test_cost_compare_names_the_missing_path(tmp_path: Path) -> None:
    for flag in ("--results", "--from-cdk", "--trace"):
        result = _run("cost", "compare", flag, str(tmp_path / "missing"))
        assert result.exit_code == 2 and flag in result.output and "Traceback" not in result.output


def test_absurd_costs_are_refused_not_priced() -> None:
    negative = _run("cost", "lambda", "--requests", "-5000000", "--duration-ms", "100", "--memory-mb", "1024",
                    "--json")
    assert negative.exit_code == 2 and "--requests must be at least 0" in negative.output
    not_a_number = _run("cost", "lambda", "--requests", "nan", "--duration-ms", "100", "--memory-mb", "1024", "--json")
    assert not_a_number.exit_code == 2 and "finite" in not_a_number.output
    ok = _run("cost", "lambda", "--requests", "1000", "--duration-ms", "100", "--memory-mb", "1024", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["total_usd"] > 0


# Path options that name something the command writes (a folder it creates): not inputs.
OUTPUTS = {"--out", "--log-file"}


def _is_path(param: Any) -> bool:
    return _annotation(param) in (Path, Path | None)


PATH_CASES = [(path, param) for path, command in _leaves(typer.main.get_command(app)) for param in command.params
              if _is_path(param) and not (param.param_type_name == "option" and param.opts[0] in OUTPUTS)]


def test_the_walk_finds_the_path_inputs() -> None:
    names = {(" ".join(path), param.opts[0] if param.param_type_name == "option" else param.name)
             for path, param in PATH_CASES}
    assert {("predict", "--bundle"), ("import", "--model"), ("emulate", "--package"), ("report", "results")} <= names


@pytest.mark.parametrize(("path", "param"), PATH_CASES,
                         ids=[f"{' '.join(p)} {q.opts[0] if q.param_type_name == 'option' else q.name}"
                              for p, q in PATH_CASES])
def test_every_path_input_that_does_not_exist_is_named_in_one_line(tmp_path: Path, path: tuple[str, ...],
                                                                   param: Any) -> None:
    from tests.byo_models import dataframe_pipeline

    byo = dataframe_pipeline(tmp_path / "byo")
    valid = {"--target": "local-lambda", "--model": str(byo.model), "--schema": str(byo.schema)}
    command = dict(_leaves(typer.main.get_command(app)))[path]
    missing = str(tmp_path / "nonexistent" / "thing")
    args = list(path)
    for other in command.params:
        if other.name == param.name or not other.required:
            continue
        flag = other.opts[0] if other.param_type_name == "option" else None
        args += ([flag] if flag else []) + [valid.get(flag or "", _valid(other, tmp_path))]
    args += [param.opts[0], missing] if param.param_type_name == "option" else [missing]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and ("nonexistent" in lines[0] or (param.opts[0] if param.opts else "") in lines[0]), \
        result.output


# Options that take one of a closed set of names (a flag added with one of these names is walked too).
NAMED = {"--runtime", "--door", "--arch", "--target", "--format", "--scenario", "--variant", "--type", "--profile",
         "--strategy", "--repeat"}
NAME_CASES = [(path, param.opts[0]) for path, command in _leaves(typer.main.get_command(app))
              for param in command.params if param.param_type_name == "option" and param.opts[0] in NAMED]


def test_the_walk_finds_the_named_options() -> None:
    assert len(NAME_CASES) >= 15 and {flag for _, flag in NAME_CASES} >= {"--runtime", "--scenario", "--profile"}


@pytest.mark.parametrize(("path", "flag"), NAME_CASES, ids=[f"{' '.join(p)} {f}" for p, f in NAME_CASES])
def test_every_unknown_name_is_refused_in_one_line(tmp_path: Path, path: tuple[str, ...], flag: str,
                                                   logreg_bundle: TrainResult) -> None:
    command = dict(_leaves(typer.main.get_command(app)))[path]
    valid = {"--target": "local-lambda", "--bundle": str(logreg_bundle.bundle_dir)}
    args = list(path)
    for other in command.params:
        if other.param_type_name == "option" and other.required and other.opts[0] != flag:
            args += [other.opts[0], valid.get(other.opts[0], _valid(other, tmp_path))]
        elif other.param_type_name == "argument" and other.required:
            args.append(_valid(other, tmp_path))
    if "--bundle" in {o for p in command.params for o in getattr(p, "opts", [])} and flag != "--bundle":
        args += ["--bundle", str(logreg_bundle.bundle_dir)]
    if path == ("cost", "fargate"):
        args += ["--hours", "1"]  # it needs one of --hours or --seconds-per-task first
    result = runner.invoke(app, [*args, flag, "bogus-name"])
    assert result.exit_code == 2, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bogus-name" in lines[0], result.output
