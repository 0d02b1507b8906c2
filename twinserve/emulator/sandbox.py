"""Memory and CPU limits for one execution environment, the way the machine allows.

Lambda gives each environment `memory_mb` of memory and CPU in proportion to it (1,769 MB = one
vCPU). Where a writable cgroup (v1 or v2) exists, each environment gets its own: memory.limit
(the kernel OOM-kills past it, as Lambda does), a CFS CPU quota, and the peak memory for "Max
Memory Used". Elsewhere memory is watched by polling RSS (approximate) and CPU is not scaled; the
mode is recorded so every report can say which applied.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from prediction_core.aws_limits import LAMBDA

MB = 1024 * 1024
MEMORY_MB_PER_VCPU = LAMBDA.memory_mb_per_vcpu  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
CFS_PERIOD_US = 100_000
V1_ROOT = Path("/sys/fs/cgroup")
V2_ROOT = Path("/sys/fs/cgroup")


def vcpus_for(memory_mb: int) -> float:
    return memory_mb / MEMORY_MB_PER_VCPU


@dataclass(frozen=True)
class SandboxMode:
    memory: str  # "cgroup-v1" | "cgroup-v2" | "rss-poll"
    cpu: str  # e.g. "cgroup-v1 quota 0.58 vCPU", or "not scaled"
    cpu_scaled: bool

    def as_dict(self) -> dict[str, object]:
        return {"memory_enforcement": self.memory, "cpu": self.cpu, "cpu_scaled": self.cpu_scaled}


def _writable_dir(parent: Path) -> bool:
    probe = parent / f"twinserve-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


def detect_cgroup() -> str | None:
    """'v2' or 'v1' when this process may create cgroups with memory and cpu controllers, else None."""
    controllers = V2_ROOT / "cgroup.controllers"
    if controllers.is_file() and {"memory", "cpu"} <= set(controllers.read_text().split()) \
            and _writable_dir(V2_ROOT):
        return "v2"
    if (V1_ROOT / "memory" / "memory.limit_in_bytes").exists() and (V1_ROOT / "cpu" / "cpu.cfs_quota_us").exists() \
            and _writable_dir(V1_ROOT / "memory") and _writable_dir(V1_ROOT / "cpu"):
        return "v1"
    return None


class Sandbox:
    """The limits of one environment. `procs_files` are written with the child's pid before exec."""

    def __init__(self, name: str, *, memory_mb: int, kind: str | None, vcpus: float | None = None) -> None:
        """`vcpus`: the CPU quota; by default Lambda's, in proportion to the memory."""
        self.name = name
        self.memory_mb = memory_mb
        self.kind = kind
        cores = os.cpu_count() or 1
        share = min(vcpus if vcpus is not None else vcpus_for(memory_mb), float(cores))
        self.vcpus = share
        self.dirs: list[Path] = []
        self.procs_files: list[str] = []
        self._peak_file: str | None = None
        self._kept: dict[str, int] = {}  # path -> open descriptor, re-read with pread (see _read_kept)
        if kind == "v2":
            d = V2_ROOT / name
            d.mkdir(parents=True, exist_ok=True)
            (d / "memory.max").write_text(str(memory_mb * MB))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            quota = "max" if share >= cores else str(int(share * CFS_PERIOD_US))
            (d / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
            self.dirs = [d]
            self.procs_files = [str(d / "cgroup.procs")]
            self._peak_file = str(d / "memory.peak") if (d / "memory.peak").exists() else None
        elif kind == "v1":
            mem = V1_ROOT / "memory" / name
            cpu = V1_ROOT / "cpu" / name
            mem.mkdir(parents=True, exist_ok=True)
            cpu.mkdir(parents=True, exist_ok=True)
            (mem / "memory.limit_in_bytes").write_text(str(memory_mb * MB))
            with contextlib.suppress(OSError):
                (mem / "memory.swappiness").write_text("0")
            quota_us = -1 if share >= cores else int(share * CFS_PERIOD_US)
            (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(quota_us))
            self.dirs = [mem, cpu]
            self.procs_files = [str(mem / "cgroup.procs"), str(cpu / "cgroup.procs")]
            self._peak_file = str(mem / "memory.max_usage_in_bytes")

    @property
    def mode(self) -> SandboxMode:
        if self.kind is None:
            return SandboxMode("rss-poll", "not scaled", False)
        return SandboxMode(f"cgroup-{self.kind}", f"cgroup-{self.kind} quota {self.vcpus:.2f} vCPU", True)

    def peak_memory_bytes(self, pid: int | None) -> int:
        """Peak memory of the environment: the larger of the cgroup's high-water mark and the
        process's peak RSS (VmHWM). A cgroup is not charged for shared-library pages another
        cgroup already brought into the page cache, which a Lambda sandbox (its own VM) pays for."""
        cgroup_peak = 0
        if self._peak_file is not None:
            with contextlib.suppress(ValueError):
                cgroup_peak = int(self._read_kept(self._peak_file) or b"0")
        hwm_kb = _field_kb(self._read_kept(f"/proc/{pid}/status"), "VmHWM") if pid else 0
        return max(cgroup_peak, hwm_kb * 1024)

    def _read_kept(self, path: str) -> bytes:
        """The file's current text. Read after every invocation, so the descriptor is kept: procfs and
        cgroupfs render afresh on each read from offset 0, and open/stat/close cost twice the read."""
        try:
            fd = self._kept.get(path)
            if fd is None:
                fd = self._kept[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(fd, 16384, 0)
        except OSError:
            return b""

    def pids(self) -> list[int]:
        """Every process in the environment's cgroup (its first hierarchy), read through a kept
        descriptor: this runs at every freeze. Empty without cgroups."""
        if not self.procs_files:
            return []
        with contextlib.suppress(ValueError):
            return [int(p) for p in self._read_kept(self.procs_files[0]).split()]
        return []

    def oom_killed(self) -> bool:
        try:
            if self.kind == "v1":
                text = (self.dirs[0] / "memory.oom_control").read_text()
                counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
                return int(counts.get("oom_kill", "0")) > 0 or int((self.dirs[0] / "memory.failcnt").read_text()) > 0
            if self.kind == "v2":
                events = dict(line.split() for line in (self.dirs[0] / "memory.events").read_text().splitlines())
                return int(events.get("oom_kill", "0")) > 0
        except OSError:
            return False
        return False

    def destroy(self) -> None:
        for fd in self._kept.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._kept.clear()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def rss_bytes(pid: int) -> int:
    return _status_kb(pid, "VmRSS") * 1024


def _status_kb(pid: int | None, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            return _field_kb(fh.read(), field)
    except OSError:
        return 0


def _field_kb(text: bytes, field: str) -> int:
    """A "Name:   123 kB" field of /proc/PID/status, in kB (0 when absent)."""
    start = text.find(field.encode() + b":")
    if start < 0:
        return 0
    return int(text[start + len(field) + 1:text.index(b"\n", start)].split()[0])


def make_preexec(procs_files: list[str]) -> object:
    """Runs in the child before exec: join the cgroups, and die with the emulator (no orphans)."""
    def preexec() -> None:
        import ctypes

        pid = str(os.getpid())
        for path in procs_files:
            with open(path, "w") as fh:
                fh.write(pid)
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


class _SigAction(ctypes.Structure):
    """glibc's `struct sigaction` on x86_64 and aarch64 Linux (handler, 1024-bit mask, flags, restorer)."""

    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * (1024 // (8 * ctypes.sizeof(ctypes.c_ulong)))),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


SA_NOCLDSTOP = 1


def quiet_child_stops() -> bool:
    """Stop this process from being signalled when a child is stopped or continued (SA_NOCLDSTOP on
    whatever SIGCHLD handler is installed; exits are still reported). Every warm invocation freezes and
    thaws its environment, and each of those otherwise delivers a SIGCHLD here that the event loop
    answers by polling every child: about 75 µs of the emulator's CPU per invocation, measured here.
    The event loop (libuv) installs its handler again when it spawns after having no children, so
    this is called after each spawn. Returns whether the flag is set (False where unsupported)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        action = _SigAction()
        if libc.sigaction(signal.SIGCHLD, None, ctypes.byref(action)) != 0:
            return False
        if not action.flags & SA_NOCLDSTOP:
            action.flags |= SA_NOCLDSTOP
            if libc.sigaction(signal.SIGCHLD, ctypes.byref(action), None) != 0:
                return False
        return True
    except (OSError, AttributeError):
        return False
