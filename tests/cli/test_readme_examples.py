"""Examples that cannot rot: every command in the README's example block runs, as written, in an
empty folder holding only the files a team would bring. A few cannot run here; they are listed
with the reason, and the list must match the README exactly."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.byo_models import dataframe_pipeline
from tests.helpers import write_sentiment_corpus
from tests.live_doors import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = "tests/cli/test_readme_examples.py` runs every"
# What cannot run on this machine, and why (the README says the same).
NOT_RUN = {
    "--target aws": "needs an AWS account and deployed stacks",
    "prices refresh": "calls the AWS Price List API",
    "--from-cdk cdk.out": "needs the cdk.out of `make synth`; tests/infra/test_infra.py runs it on a synthesized app",
}
DOCKER = " && docker build"  # the part before it runs; the image build needs a Docker daemon
SERVERS = ("twinserve serve ", "twinserve emulate ")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text[text.index(MARKER):]
    block = block[block.index("```bash\n") + 8:]
    block = block[:block.index("```")]
    commands, pending = [], ""
    for line in block.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        line = pending + line.strip()
        pending = ""
        line = re.sub(r"\s+#(?![^'\"]*['\"]\s*$).*$", "", line).strip()  # a trailing comment, not one in quotes
        if line:
            commands.append(line)
    return commands


def _inputs(folder: Path) -> None:
    """The files the examples name that a team brings: a labelled-sentence file, a fitted pipeline
    with its schema and held-out rows, and a per-minute traffic trace."""
    write_sentiment_corpus(folder / "sentences.txt")
    byo = dataframe_pipeline(folder / "byo")
    shutil.copy(byo.model, folder / "pipeline.joblib")
    shutil.copy(byo.schema, folder / "schema.json")
    shutil.copy(byo.heldout, folder / "heldout.json")
    (folder / "traffic.csv").write_text("minute,requests\n" + "".join(f"{m},{60 * (5 + m % 30)}\n"
                                                                      for m in range(1440)))


def _run_server(command: str, folder: Path, env: dict[str, str]) -> None:
    """Start it, wait until it answers, then stop it as Ctrl-C would."""
    port = free_port()
    command = re.sub(r"--port \d+", f"--port {port}", command)
    path = "/health" if " serve " in command else "/_emulator/info"
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=folder, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{command} exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{command} did not answer {path}"
                time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_every_readme_example_runs_as_written(tmp_path: Path) -> None:
    commands = readme_commands()
    assert len(commands) >= 30
    _inputs(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    skipped: dict[str, str] = {}
    for command in commands:
        reason = next((why for needle, why in NOT_RUN.items() if needle in command), None)
        if reason is not None:
            skipped[command] = reason
            continue
        if command.startswith(SERVERS):
            _run_server(command, tmp_path, env)
            continue
        if DOCKER in command:
            command = command.split(DOCKER)[0]
        if command.startswith("twinserve bench ") and "--quick" not in command:
            command += " --quick"  # the same scenarios with fewer requests: make test stays short
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, command
    assert sorted({next(n for n in NOT_RUN if n in c) for c in skipped}) == sorted(NOT_RUN), skipped
    # What the examples made is what they say they make.
    assert json.loads((tmp_path / "request.json").read_text())["instances"]
    assert (tmp_path / "build/lambda/native-sklearn-x86_64-aws-image/context/Dockerfile").is_file()
    assert (tmp_path / "results/run1/report.html").is_file() and (tmp_path / "results/mine/report.md").is_file()
    assert "Model: pipeline version" in (tmp_path / "results/mine/report.md").read_text()  # named after its file
