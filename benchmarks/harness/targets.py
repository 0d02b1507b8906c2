"""Benchmark targets: where requests go, how a cold start is forced, where REPORT lines come from.

- `local-lambda`: the emulator (`twinserve emulate`) running a package built for this machine;
- `local-container`: the container service (`python -m container_service`);
- `aws-lambda` / `aws-container`: the deployed stacks (see benchmarks/harness/aws.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from benchmarks.reportlog import Report, parse_report
from prediction_core.aws_limits import LAMBDA

TargetKind: TypeAlias = Literal["lambda", "container"]
Source: TypeAlias = Literal["measured-local", "measured-aws"]
# (package, bundle, runtime, destination) -> a package like `package` with the bundle's model in it.
Repackage: TypeAlias = Callable[[Path, Path, str, Path], Path]


class Target(Protocol):
    """Where requests go and where REPORT lines come from. What else a target can do is a
    capability below, checked by the scenario registry, never probed with getattr."""

    name: str
    kind: TargetKind
    source: Source
    host: str
    port: int
    path_prefix: str
    tls: bool
    timeout_s: float

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]: ...
    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class ColdStartable(Protocol):
    """The next request after `force_cold` starts a new environment or instance."""

    def force_cold(self) -> None: ...


@runtime_checkable
class ModelSwappable(Protocol):
    """Can serve another model bundle for a while (the model-size sweep), then the original again;
    `bundle` is the model it serves (the sweep derives its sizes from that model, never another)."""

    runtime: str

    @property
    def bundle(self) -> Path | None: ...

    def swap_model(self, bundle: Path) -> None: ...
    def restore_model(self) -> None: ...


@runtime_checkable
class MemoryConfigurable(Protocol):
    """Can run the function at another memory size (the memory sweep): every size starts cold."""

    memory_mb: int

    def set_memory(self, memory_mb: int) -> dict[str, Any]: ...
    def reset_memory(self) -> None: ...


@runtime_checkable
class FrontDoored(Protocol):
    """A Lambda target reached through a known front door (http, rest, url or alb): its limits
    are that door's (prediction_core.aws_limits.DOOR_LIMITS)."""

    front_door: str


@runtime_checkable
class ExampleSource(Protocol):
    """Knows a valid request for the model it serves (a deployment: from its GET /model)."""

    def example_instance(self) -> dict[str, Any]: ...


@runtime_checkable
class ColdPathTimed(Protocol):
    """Times each instance start (process start -> healthy), one entry per start."""

    cold_path_s: list[dict[str, float]]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until `url` answers (any HTTP status)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return time.perf_counter() - start
        except urllib.error.HTTPError:
            return time.perf_counter() - start
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class LocalLambdaTarget:
    """The emulator in its own process (so the load generator and the emulator do not share a GIL)."""

    package: Path
    memory_mb: int = 1769
    timeout_s: float = 30.0
    concurrency: int = 10
    keep_alive_s: float = 300.0
    runtime: str = "onnx"
    handler: str | None = None
    front_door: str = "http"  # the event the emulator's front door builds: http, rest, url or alb
    repackage: Repackage | None = None  # given by the CLI (twinserve.packaging), so the harness needs no builder
    bundle: Path | None = None  # the model bundle the package was built from
    name: str = "local-lambda"
    kind: TargetKind = "lambda"
    source: Source = "measured-local"
    host: str = "127.0.0.1"
    port: int = 0
    path_prefix: str = ""
    tls: bool = False
    log_file: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log_cursor: int = 0
    _reports: dict[str, Report] = field(default_factory=dict)
    _original_package: Path | None = None
    _original_memory_mb: int | None = None

    def start(self) -> None:
        self.port = self.port or free_port()  # a restart keeps the port, so clients can reconnect
        self._log_cursor = 0
        cmd = [sys.executable, "-m", "twinserve", "emulate", "--package", str(self.package), "--port", str(self.port),
               "--memory-mb", str(self.memory_mb), "--timeout-s", str(self.timeout_s), "--concurrency",
               str(self.concurrency), "--keep-alive-s", str(self.keep_alive_s), "--event", self.front_door]
        if self.handler:
            cmd += ["--handler", self.handler]
        cmd += ["--env", f"MODEL_RUNTIME={self.runtime}"]
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(self.url("/_emulator/info"), 60, self._proc)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stop(self) -> None:
        stop_process(self._proc, signal.SIGINT)

    def force_cold(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.url("/_emulator/reset"), data=b"", method="POST"),
                               timeout=30).read()

    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]:
        """REPORT lines from the emulator's log, parsed as CloudWatch's would be (already complete
        when a response arrives, so `wanted` needs no waiting here)."""
        data = json.loads(urllib.request.urlopen(self.url(f"/_emulator/logs?after={self._log_cursor}"),
                                                 timeout=30).read())
        self._log_cursor = data["next"]
        for line in data["lines"]:
            report = parse_report(line)
            if report is not None:
                self._reports[report.request_id] = report
        return self._reports

    def set_memory(self, memory_mb: int) -> dict[str, Any]:
        """Restart the emulator at another memory size (new environments: the next request is cold).
        Its CPU quota follows the memory (memory / 1,769 vCPU), capped at this machine's cores."""
        if self._original_memory_mb is None:
            self._original_memory_mb = self.memory_mb
        self.stop()
        self.memory_mb = memory_mb
        self.start()
        info = json.loads(urllib.request.urlopen(self.url("/_emulator/info"), timeout=30).read())
        cores = os.cpu_count() or 1
        wanted = memory_mb / LAMBDA.memory_mb_per_vcpu
        return {"vcpus": min(wanted, cores) if info.get("cpu_scaled") else None, "vcpus_on_aws": round(wanted, 2),
                "cpu_capped": bool(info.get("cpu_scaled")) and wanted > cores, "cpu": info.get("cpu")}

    def reset_memory(self) -> None:
        if self._original_memory_mb is not None and self._original_memory_mb != self.memory_mb:
            self.stop()
            self.memory_mb = self._original_memory_mb
            self.start()
        self._original_memory_mb = None

    def swap_model(self, bundle: Path) -> None:
        """Restart on the same package with another model in it (model-size sweep)."""
        if self.repackage is None:
            raise RuntimeError(f"target {self.name} was built without a repackaging step; it cannot swap models")
        if self._original_package is None:
            self._original_package = self.package
        dest = self._original_package.parent / f"sweep-{bundle.name}-{self.runtime}"
        self.stop()
        self.package = self.repackage(self._original_package, bundle, self.runtime, dest)
        self.start()

    def restore_model(self) -> None:
        if self._original_package is not None:
            self.stop()
            self.package, self._original_package = self._original_package, None
            self.start()

    def describe(self) -> dict[str, Any]:
        info = json.loads(urllib.request.urlopen(self.url("/_emulator/info"), timeout=30).read())
        package = info.pop("package_report", None) or {}  # the emulator reads the package's report
        return {"target": self.name, "source": self.source, "emulator": {k: v for k, v in info.items()
                                                                        if k not in ("counters", "environments")},
                "package": {k: package.get(k) for k in ("door", "runtime", "python_version", "unzipped_bytes",
                                                        "zipped_bytes", "requirements")}}


@dataclass
class LocalContainerTarget:
    """The container service process, as its image's entrypoint runs it."""

    bundle: Path
    runtime: str = "onnx"
    workers: int = 1
    # A Fargate task's size: the CLI runs the process under a CPU quota of `task_vcpu` (a cgroup,
    # joined by `preexec` before exec) and says how in `cpu_note`; None: the whole machine.
    task_vcpu: float | None = None
    preexec: Callable[[], None] | None = None
    cpu_note: str = "whole machine (no CPU quota)"
    name: str = "local-container"
    kind: TargetKind = "container"
    source: Source = "measured-local"
    host: str = "127.0.0.1"
    port: int = 0
    path_prefix: str = ""
    tls: bool = False
    timeout_s: float = 60.0
    cold_path_s: list[dict[str, float]] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _original_bundle: Path | None = None

    def start(self) -> None:
        self.port = self.port or free_port()
        env = {**os.environ, "MODEL_BUNDLE": str(self.bundle), "MODEL_RUNTIME": self.runtime,
               "TWINSERVE_HOST": self.host, "TWINSERVE_PORT": str(self.port), "TWINSERVE_WORKERS": str(self.workers),
               "TWINSERVE_LOG_LEVEL": "warning"}
        started = time.perf_counter()
        self._proc = subprocess.Popen([sys.executable, "-m", "container_service"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                      preexec_fn=self.preexec)  # it only joins a cgroup, before exec
        healthy = wait_http(f"http://{self.host}:{self.port}/health", 60, self._proc)
        # The counterpart of a Fargate scale-out after the image is pulled: process start → healthy.
        self.cold_path_s.append({"process_to_healthy_ms": healthy * 1000.0,
                                 "spawn_ms": (time.perf_counter() - started - healthy) * 1000.0})

    def stop(self) -> None:
        stop_process(self._proc)

    def force_cold(self) -> None:
        self.stop()
        self.start()

    def reports(self, wanted: set[str] | None = None, since_s: float | None = None) -> dict[str, Report]:
        return {}  # a container writes no REPORT lines

    def swap_model(self, bundle: Path) -> None:
        if self._original_bundle is None:
            self._original_bundle = self.bundle
        self.stop()
        self.bundle = bundle
        self.start()

    def restore_model(self) -> None:
        if self._original_bundle is not None:
            self.stop()
            self.bundle, self._original_bundle = self._original_bundle, None
            self.start()

    def describe(self) -> dict[str, Any]:
        return {"target": self.name, "source": self.source, "runtime": self.runtime, "workers": self.workers,
                "bundle": str(self.bundle), "task_vcpu": self.task_vcpu, "cpu": self.cpu_note}
