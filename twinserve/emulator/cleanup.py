"""Nothing an emulator started outlives it: every process of an environment, and the environment's
cgroups, are removed when the environment is destroyed, when the emulator stops, and, through a
watchdog process, when the emulator itself is killed (SIGKILL included).

A process belongs to an environment when its environment variables say so (TWINSERVE_ENV, set for
the runtime and inherited by anything it starts, in its process group or not) or when it is in the
environment's cgroup. Finding processes by /proc costs a few milliseconds: it runs when an
environment is destroyed, never on the warm path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

EMULATOR_VARIABLE = "TWINSERVE_EMULATOR"
ENV_VARIABLE = "TWINSERVE_ENV"
CGROUP_PARENT = "twinserve"
CGROUP_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/cpu"))


def marked_pids(variable: str, value: str) -> list[int]:
    """Processes whose environment has variable=value (their own, as they were started)."""
    wanted = f"{variable}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                if wanted in fh.read().split(b"\0"):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def cgroup_pids(dirs: Iterable[Path]) -> list[int]:
    pids: set[int] = set()
    for d in dirs:
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
    return sorted(pids)


def kill_all(pids_of: Callable[[], list[int]], timeout_s: float = 2.0) -> list[int]:
    """SIGKILL (and SIGCONT, for stopped ones) whatever `pids_of()` lists until it lists nothing;
    returns what is still there after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = pids_of()
        if not pids or time.monotonic() > deadline:
            return list(pids)
        for pid in pids:
            for sig in (signal.SIGKILL, signal.SIGCONT):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        time.sleep(0.01)


def remove_cgroups(dirs: Iterable[Path]) -> list[Path]:
    """rmdir each (a cgroup with no process left); returns those that could not be removed."""
    left = []
    for d in dirs:
        if not d.exists():
            continue
        try:
            d.rmdir()
        except OSError:
            left.append(d)
    return left


def emulator_cgroups(emulator_id: str) -> list[Path]:
    """The cgroup directories of one emulator's environments (named <emulator id>-<n>)."""
    return [d for root in CGROUP_ROOTS for d in (root / CGROUP_PARENT).glob(f"{emulator_id}-*") if d.is_dir()]


def kill_marked(variable: str, value: str, dirs: list[Path]) -> list[int]:
    """Kill every process marked variable=value or in one of the cgroups `dirs`; what is left."""
    return kill_all(lambda: sorted(set(marked_pids(variable, value)) | set(cgroup_pids(dirs))))


def clean_emulator(emulator_id: str) -> tuple[list[int], list[Path]]:
    """Kill every process of the emulator's environments and remove their cgroups."""
    dirs = emulator_cgroups(emulator_id)
    return kill_marked(EMULATOR_VARIABLE, emulator_id, dirs), remove_cgroups(dirs)


WATCHDOG = """
import sys
from twinserve.emulator.cleanup import clean_emulator
sys.stdin.buffer.read()  # returns when the emulator's end of the pipe closes: it stopped or was killed
clean_emulator(sys.argv[1])
"""


def start_watchdog(emulator_id: str) -> subprocess.Popen[bytes]:
    """A small process that cleans up after this emulator whenever it ends, however it ends: it waits
    for EOF on a pipe only the emulator holds open. In its own session, so no signal meant for the
    emulator's process group reaches it."""
    root = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k not in (EMULATOR_VARIABLE, ENV_VARIABLE)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-S", "-c", WATCHDOG, emulator_id], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                            close_fds=True)
