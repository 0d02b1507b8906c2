"""A local stand-in for AWS that the harness's AWS code runs through unchanged.

- moto (in process) is the control plane: CloudFormation outputs, Lambda functions, versions,
  aliases and configuration, CloudWatch Logs;
- the project's emulator is the execution: one emulator per published version, started when the
  alias first points at that version, so a new version starts new environments (a cold start) as
  on AWS, and a version keeps its warm environments while the alias stays on it;
- a small API Gateway stand-in on loopback invokes the version the alias points at (read from moto
  on every request, as API Gateway resolves the alias), drops the emulator's own headers, and
  ships the emulator's START/END/REPORT lines to the moto log group after a delay, as CloudWatch
  delivers them late.

moto's CloudFormation does not create Lambda aliases or API Gateway resources (it skips them and
reports success), so the stand-in creates the function, version and alias itself and publishes
the stack outputs the CDK app would.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from benchmarks.harness.loadgen import Client, encode_request
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.httpserver import HttpServer, Request, Response, serve
from twinserve.emulator.runner import EmulatorThread, new_event_loop

REGION = "us-east-1"
ALIAS = "live"
DROPPED_PREFIX = "x-emulator-"  # headers API Gateway would never send


@dataclass
class Rehearsal:
    """Start inside `moto.mock_aws()`; `stack` is the name `twinserve bench --target aws` reads."""

    package: Path  # a local Lambda package (twinserve.packaging.ensure_local_package)
    handler: str
    log_delay_s: float = 1.0
    memory_mb: int = 1024
    stack: str = "TwinserveFunction"
    function: str = "twinservefunction-predict"
    emulators: dict[str, EmulatorThread] = field(default_factory=dict)
    invoked_versions: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop = field(default_factory=new_event_loop)
    _server: HttpServer | None = None
    _clients: dict[str, Client] = field(default_factory=dict)
    _shipped: dict[str, int] = field(default_factory=dict)
    _held: list[tuple[float, str, str]] = field(default_factory=list)  # (due, version, line)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"

    def __enter__(self) -> Rehearsal:
        self.lam = boto3.client("lambda", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        self._create_function()
        loop_thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        loop_thread.start()
        self._server = asyncio.run_coroutine_threadsafe(serve(self._handle, max_body_bytes=10 * 2**20),
                                                        self._loop).result(10)
        self._create_stack(f"http://127.0.0.1:{self._server.port}")
        shipper = threading.Thread(target=self._ship_logs, daemon=True)
        shipper.start()
        self._threads = [loop_thread, shipper]
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._threads[1].join(10)
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
        for client in self._clients.values():
            self._loop.call_soon_threadsafe(client.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads[0].join(10)
        for emulator in self.emulators.values():
            emulator.close()

    # --- the control plane, as `cdk deploy` would leave it ------------------------------------
    def _create_function(self) -> None:
        iam = boto3.client("iam", region_name=REGION)
        # IAM is global in moto and may outlive one mock: a name of its own per rehearsal.
        role = iam.create_role(RoleName=f"twinserve-predict-{uuid.uuid4().hex[:8]}",
                               AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:  # moto keeps the code; the emulator runs the real package
            zf.writestr("placeholder.py", "")
        self.lam.create_function(FunctionName=self.function, Runtime="python3.12", Role=role, Handler=self.handler,
                                 Code={"ZipFile": code.getvalue()}, MemorySize=self.memory_mb, Timeout=10,
                                 Environment={"Variables": {"MODEL_RUNTIME": "onnx"}})
        version = self.lam.publish_version(FunctionName=self.function)["Version"]
        self.lam.create_alias(FunctionName=self.function, Name=ALIAS, FunctionVersion=version)
        self.logs.create_log_group(logGroupName=self.log_group)

    def _create_stack(self, api_url: str) -> None:
        outputs = {"ApiUrl": api_url, "FunctionName": self.function, "AliasName": ALIAS, "LogGroupName": self.log_group}
        template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
        boto3.client("cloudformation", region_name=REGION).create_stack(StackName=self.stack,
                                                                         TemplateBody=json.dumps(template))

    # --- API Gateway: invoke what the alias points at -----------------------------------------
    def _emulator_for(self, version: str) -> EmulatorThread:
        if version not in self.emulators:
            config = self.lam.get_function_configuration(FunctionName=self.function, Qualifier=version)
            variables = dict(config.get("Environment", {}).get("Variables", {}))
            emulator = EmulatorThread(FunctionConfig(
                package=self.package, handler=self.handler, function_name=self.function,
                memory_mb=int(config["MemorySize"]), timeout_s=float(config["Timeout"]), environment=variables))
            emulator.__enter__()
            self.emulators[version] = emulator
            self._shipped[version] = 0
            self.logs.create_log_stream(logGroupName=self.log_group, logStreamName=f"[{version}]")
        return self.emulators[version]

    async def _handle(self, req: Request) -> Response:
        version = self.lam.get_alias(FunctionName=self.function, Name=ALIAS)["FunctionVersion"]
        self.invoked_versions.append(version)
        emulator = self._emulator_for(version)
        client = self._clients.setdefault(version, Client("127.0.0.1", emulator.emulator.port, timeout_s=60))
        path = req.path + (f"?{req.query}" if req.query else "")
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length")}
        reply = await client.send(encode_request(req.method, path, req.body if req.method != "GET" else None,
                                                 headers))
        if reply.status == 0:
            return Response(502, b'{"message":"Internal Server Error"}', {"content-type": "application/json"})
        kept = {k: v for k, v in reply.headers.items()
                if not k.startswith(DROPPED_PREFIX) and k not in ("content-length", "connection")}
        return Response(reply.status, reply.body, kept)

    # --- CloudWatch Logs: the emulator's lines, late --------------------------------------------
    def _ship_logs(self) -> None:
        while not self._stop.wait(0.2):
            now = time.time()
            for version, emulator in list(self.emulators.items()):
                with urllib.request.urlopen(f"{emulator.url}/_emulator/logs?after={self._shipped[version]}",
                                            timeout=10) as response:
                    data = json.loads(response.read())
                self._shipped[version] = data["next"]
                self._held += [(now + self.log_delay_s, version, line) for line in data["lines"]]
            due = [item for item in self._held if item[0] <= now]
            self._held = [item for item in self._held if item[0] > now]
            for version in sorted({v for _, v, _ in due}):
                events = [{"timestamp": int((d - self.log_delay_s) * 1000), "message": line}
                          for d, v, line in due if v == version]
                self.logs.put_log_events(logGroupName=self.log_group, logStreamName=f"[{version}]", logEvents=events)

    def published_versions(self) -> set[str]:
        return {v["Version"] for v in self.lam.list_versions_by_function(FunctionName=self.function)["Versions"]}

    def alias_version(self) -> str:
        return str(self.lam.get_alias(FunctionName=self.function, Name=ALIAS)["FunctionVersion"])


def rehearsal_env() -> dict[str, Any]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
