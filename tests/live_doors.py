"""Drivers that send one HTTP request through each door and return (status, headers, body)."""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.harness.targets import free_port
from tests.events import FakeContext, make_event, response_parts

JSON = {"content-type": "application/json"}


@dataclass
class Request:
    label: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


Reply = tuple[int, dict[str, str], Any]


@contextlib.contextmanager
def lambda_env(bundle: Path, runtime: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("MODEL_BUNDLE", "MODEL_RUNTIME", "MODEL_URI")}
    os.environ.update(MODEL_BUNDLE=str(bundle), MODEL_RUNTIME=runtime)
    os.environ.pop("MODEL_URI", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def import_fresh(name: str) -> ModuleType:
    """Import a handler module as Lambda's INIT would: its module scope runs again."""
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


class EventDoor:
    """A Lambda handler called with API Gateway / ALB events, as the Lambda service would."""

    def __init__(self, handler: Any, kind: str) -> None:
        self.handler = handler
        self.kind = kind

    def send(self, req: Request, *, base64_body: bool = False) -> Reply:
        event = make_event(self.kind, req.method, req.path, req.body, req.headers, base64_body=base64_body)
        return response_parts(self.handler(event, FakeContext()))


class LiveService:
    """`python -m container_service` (the container's entrypoint) on a loopback port."""

    def __init__(self, bundle: Path, runtime: str, *, workers: int = 1, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        env = {**os.environ, "MODEL_BUNDLE": str(bundle), "MODEL_RUNTIME": runtime, "TWINSERVE_HOST": "127.0.0.1",
               "TWINSERVE_PORT": str(self.port), "TWINSERVE_WORKERS": str(workers), **(extra_env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "container_service"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self._conn: http.client.HTTPConnection | None = None
        self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{out}")
            try:
                if self.send(Request("health", "GET", "/health", headers={}))[0] == 200:
                    return
            except OSError:
                self._conn = None
                time.sleep(0.1)
        raise RuntimeError("service did not become healthy")

    def send(self, req: Request) -> Reply:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self._conn.request(req.method, req.path, body=req.body, headers=req.headers)
            resp = self._conn.getresponse()
            raw = resp.read()
        except (http.client.HTTPException, OSError):
            self._conn.close()
            self._conn = None
            raise
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if headers.get("connection", "").lower() == "close":
            self._conn.close()
            self._conn = None
        return resp.status, headers, json.loads(raw) if raw else None

    def stop(self) -> int:
        if self._conn is not None:
            self._conn.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()
        return code
