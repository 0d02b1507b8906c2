"""Nothing the emulator starts outlives it (issue #20, item 6): children of crashed runtimes,
children in their own session, cgroups; after a normal stop and after SIGKILL of the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from twinserve.emulator.cleanup import EMULATOR_VARIABLE, emulator_cgroups, marked_pids
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.runner import EmulatorThread
from twinserve.emulator.sandbox import detect_cgroup

FIXTURES = Path(__file__).resolve().parents[1] / "lambda_fixtures"


@contextmanager
def emulator(**environment: str) -> Iterator[EmulatorThread]:
    config = FunctionConfig(package=FIXTURES, handler="handlers.fork_child", memory_mb=512, timeout_s=10,
                            environment=environment)
    with EmulatorThread(config) as emu:
        yield emu


def _post(emu: EmulatorThread) -> tuple[int, Any]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", emu.emulator.port, timeout=30)
    conn.request("POST", "/run", body=b"{}", headers={"content-type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, json.loads(body) if body else None


def _gone(emulator_id: str, timeout_s: float = 5.0) -> tuple[list[int], list[Path]]:
    deadline = time.monotonic() + timeout_s
    while True:
        pids, dirs = marked_pids(EMULATOR_VARIABLE, emulator_id), emulator_cgroups(emulator_id)
        if (not pids and not dirs) or time.monotonic() > deadline:
            return pids, dirs
        time.sleep(0.05)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("environment", [{}, {"FORK_SESSION": "1"}, {"RUNTIME_EXITS": "1"},
                                         {"RUNTIME_EXITS": "1", "FORK_SESSION": "1"}])
def test_no_process_or_cgroup_is_left_after_a_stop(environment: dict[str, str]) -> None:
    with emulator(**environment) as emu:
        status, _ = _post(emu)
        emulator_id = emu.service.emulator_id
        if "RUNTIME_EXITS" in environment:
            assert status >= 500  # Runtime.ExitError: the environment is discarded, its children with it
            assert _gone(emulator_id) == ([], [])
        else:
            assert status == 200
            assert marked_pids(EMULATOR_VARIABLE, emulator_id)  # the child is alive while the emulator runs
    assert _gone(emulator_id) == ([], [])
    assert emu.service.counters["cleanup_failures"] == 0


def test_a_child_in_the_process_group_is_frozen_with_its_environment() -> None:
    with emulator() as emu:
        _, body = _post(emu)
        child = int(body["child"])
        deadline = time.monotonic() + 2
        while _state(child) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _state(child) == "T"  # stopped while the environment is idle
        _post(emu)  # thawed for the next invocation (which forks another child)
        assert _state(child) in ("T", "S", "R")  # alive: stopped again, sleeping, or running just after the thaw


def test_nothing_is_left_after_the_emulator_is_killed(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    script = f"""
import asyncio, sys
from pathlib import Path
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.runner import EmulatorThread
config = FunctionConfig(package=Path({str(FIXTURES)!r}), handler="handlers.fork_child", memory_mb=512,
                        environment={{"FORK_SESSION": "1"}})
emu = EmulatorThread(config).__enter__()
Path({str(port_file)!r}).write_text(f"{{emu.emulator.port}} {{emu.service.emulator_id}}")
import time
time.sleep(600)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        port, emulator_id = port_file.read_text().split()
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
        conn.request("POST", "/run", body=b"{}", headers={"content-type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
        assert marked_pids(EMULATOR_VARIABLE, emulator_id)
        if detect_cgroup():
            assert emulator_cgroups(emulator_id)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _gone(emulator_id, timeout_s=10) == ([], [])  # the watchdog cleaned up after it
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_child_in_its_own_session_is_frozen_too() -> None:
    assert detect_cgroup() is not None  # this machine and CI's let the emulator create cgroups
    with emulator(FORK_SESSION="1") as emu:
        _, body = _post(emu)
        child = int(body["child"])
        deadline = time.monotonic() + 2
        while _state(child) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _state(child) == "T"  # the cgroup, not the process group, is what is frozen
