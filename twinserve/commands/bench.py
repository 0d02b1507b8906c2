"""`twinserve bench`: run benchmark scenarios against local or deployed targets."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from twinserve.commands.model import DEFAULT_BUNDLE
from twinserve.output import console, fail, user_errors
from twinserve.packaging.catalogue import LAMBDA_DOORS

if TYPE_CHECKING:
    from benchmarks.harness.targets import Target

def _fmt(value: Any, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


@dataclass(frozen=True)
class TargetSettings:
    """What the CLI was told about targets; each builder takes what applies to it."""

    bundle: Path
    runtime: str
    door: str
    variants: list[str] | None
    memory_mb: int
    timeout_s: float
    concurrency: int
    workers: int
    front_door: str
    task_vcpu: float
    task_memory_gb: float
    function_stack: str
    service_stack: str | None
    region: str | None
    out: Path


def _local_lambda(s: TargetSettings) -> list[Target]:
    from benchmarks.harness.targets import LocalLambdaTarget
    from twinserve.packaging import copy_package_with_model, ensure_local_package

    pairs = [v.split("/", 1) for v in s.variants] if s.variants else [[s.door, s.runtime]]
    targets: list[Target] = []
    for v_door, v_runtime in pairs:
        if v_door not in LAMBDA_DOORS:
            raise fail(f"--variant {v_door}/{v_runtime}: door must be one of {', '.join(LAMBDA_DOORS)}")
        with console.status(f"building the {v_door}/{v_runtime} package for this machine…"):
            package = ensure_local_package(s.bundle, v_door, v_runtime)
        s.out.mkdir(parents=True, exist_ok=True)
        label = f"local-lambda:{v_door}-{v_runtime}" if s.variants else "local-lambda"
        targets.append(LocalLambdaTarget(package=package, memory_mb=s.memory_mb, timeout_s=s.timeout_s,
                                         concurrency=s.concurrency, runtime=v_runtime, name=label,
                                         front_door=s.front_door,
                                         repackage=copy_package_with_model, bundle=s.bundle,
                                         log_file=s.out / f"{label.replace(':', '-')}-emulator.log"))
    return targets


def _local_container(s: TargetSettings) -> list[Target]:
    """The service as a Fargate task of `task_vcpu` vCPUs: its processes share a CPU quota of that
    size (a cgroup, as the emulator gives each Lambda environment), so the saturation scenario
    measures what one task of that size serves, not what this whole machine does."""
    from benchmarks.harness.targets import LocalContainerTarget
    from twinserve.emulator.sandbox import Sandbox, detect_cgroup, make_preexec

    if not s.task_vcpu:
        return [LocalContainerTarget(bundle=s.bundle, runtime=s.runtime, workers=s.workers)]
    kind = detect_cgroup()
    if kind is None:
        note = f"not limited: no writable cgroup here (a {s.task_vcpu:g} vCPU task was asked for)"
        return [LocalContainerTarget(bundle=s.bundle, runtime=s.runtime, workers=s.workers, cpu_note=note)]
    sandbox = Sandbox(f"twinserve/task-{os.getpid()}", memory_mb=int(s.task_memory_gb * 1024), kind=kind,
                      vcpus=s.task_vcpu)
    SANDBOXES.append(sandbox)
    return [LocalContainerTarget(bundle=s.bundle, runtime=s.runtime, workers=s.workers, task_vcpu=s.task_vcpu,
                                 preexec=make_preexec(sandbox.procs_files),  # type: ignore[arg-type]
                                 cpu_note=f"cgroup-{kind} quota {sandbox.vcpus:.2f} vCPU, "
                                          f"{s.task_memory_gb:g} GB (a Fargate task's size)")]


SANDBOXES: list[Any] = []  # the cgroups the local container runs in, removed when the run ends


def _aws(s: TargetSettings) -> list[Target]:
    import boto3
    import botocore.exceptions

    from benchmarks.harness.aws import AwsLambdaTarget, AwsSetupError
    from benchmarks.harness.aws_fargate import AwsContainerTarget

    try:
        session = boto3.Session(region_name=s.region)
        cfn = session.client("cloudformation")
        targets: list[Target] = [AwsLambdaTarget.from_stack(s.function_stack, cloudformation=cfn,
                                                            lambda_client=session.client("lambda"),
                                                            logs_client=session.client("logs"))]
        if s.service_stack:
            targets.append(AwsContainerTarget.from_stack(s.service_stack, cloudformation=cfn,
                                                         ecs_client=session.client("ecs"),
                                                         elbv2_client=session.client("elbv2")))
    except botocore.exceptions.NoRegionError:
        raise fail("no AWS region: pass --region or set AWS_REGION (the region the stacks are deployed in)") from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise fail("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
    except botocore.exceptions.ClientError as exc:
        raise fail(f"AWS refused the set-up call: {aws_error_line(exc)}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise fail(f"AWS could not be reached: {exc}") from None
    except AwsSetupError as exc:
        raise fail(str(exc)) from None
    return targets


def aws_error_line(exc: Exception) -> str:
    """One line from a botocore ClientError: the operation, AWS's code and message."""
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "call")
    message = str(error.get("Message", exc))
    if "does not exist" in message and "Stack" in message:
        message += " (deploy it with `npx cdk deploy`, or name it with --function-stack / --service-stack)"
    return f"{operation}: {error.get('Code', 'Error')}: {message}"


# Target name → builder: adding a target is adding an entry.
TARGETS: dict[str, Callable[[TargetSettings], list[Target]]] = {
    "local-lambda": _local_lambda, "local-container": _local_container, "aws": _aws}


def build_targets(names: list[str], settings: TargetSettings) -> list[Target]:
    return [target for name in names for target in TARGETS[name](settings)]


@user_errors
def bench(
    target: Annotated[list[str], typer.Option(help=f"Target(s): {', '.join(TARGETS)}.")],
    scenario: Annotated[list[str], typer.Option(help="Scenario(s), or all.")] = ["all"],  # noqa: B006
    out: Annotated[Path | None, typer.Option(help="Run folder (default results/<time>); an existing one "
                                                  "resumes.")] = None,
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="Model bundle (local targets).")] = DEFAULT_BUNDLE,
    runtime: Annotated[str, typer.Option(help="onnx, sklearn or lean (local targets).")] = "onnx",
    door: Annotated[str, typer.Option(help="native or asgi (local-lambda).")] = "native",
    variant: Annotated[list[str] | None, typer.Option(help="local-lambda packages as door/runtime, e.g. "
                                                           "native/sklearn (repeatable; one target each).")] = None,
    memory_mb: Annotated[int, typer.Option(help="Lambda memory (local-lambda).")] = 1769,
    timeout_s: Annotated[float, typer.Option(help="Lambda timeout (local-lambda).")] = 3.0,
    concurrency: Annotated[int, typer.Option(help="Lambda concurrency limit (local-lambda).")] = 10,
    workers: Annotated[int, typer.Option(help="Container workers (local-container).")] = 1,
    front_door: Annotated[str, typer.Option(help="local-lambda: the front door the emulator plays: http, rest, url "
                                                 "(function URL) or alb.")] = "http",
    task_vcpu: Annotated[float, typer.Option(help="local-container: run it as a Fargate task of this many vCPUs "
                                                  "(a CPU quota; 0: the whole machine).")] = 0.5,
    task_memory_gb: Annotated[float, typer.Option(help="local-container: the task's memory, GB.")] = 1.0,
    function_stack: Annotated[str, typer.Option(help="CloudFormation stack of the function (aws).")]
    = "TwinserveFunction",
    service_stack: Annotated[str | None, typer.Option(help="CloudFormation stack of the service (aws).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (aws).")] = None,
    slo_ms: Annotated[float, typer.Option(help="p99 SLO for the saturation scenario, ms.")] = 100.0,
    quick: Annotated[bool, typer.Option(help="Fewer requests per scenario (a smoke run).")] = False,
    repeat: Annotated[list[str] | None, typer.Option(help="Scenario(s) to run again in an existing run.")] = None,
) -> None:
    """Measure cold starts, warm latency, bursts, sustained load and limits; write results/<id>/."""
    from benchmarks.harness.context import Options
    from benchmarks.harness.runner import run_bench
    from benchmarks.harness.scenarios import DEFAULT_ORDER, SCENARIOS

    names = list(DEFAULT_ORDER) if "all" in scenario else scenario
    unknown = [s for s in names + list(repeat or []) if s not in SCENARIOS]
    if unknown:
        raise fail(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)} or all")
    bad = [t for t in target if t not in TARGETS]
    if bad:
        raise fail(f"unknown target {bad[0]!r}; choose from {', '.join(TARGETS)}")
    local = [t for t in target if t.startswith("local-")]
    if local and not (bundle / "manifest.json").is_file():
        raise fail(f"--bundle {bundle}: no model bundle there (needed by {', '.join(local)}); "
                   f"run `twinserve train --out {bundle}`")
    from prediction_core.runtimes import RUNTIMES
    from twinserve.packaging.catalogue import LAMBDA_DOORS

    if runtime not in RUNTIMES:
        raise fail(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    for item in variant or []:
        door_name, _, runtime_name = item.partition("/")
        if item.count("/") != 1 or door_name not in LAMBDA_DOORS or runtime_name not in RUNTIMES:
            raise fail(f"--variant {item!r} is not door/runtime with a door of {', '.join(LAMBDA_DOORS)} and a "
                       f"runtime of {', '.join(RUNTIMES)}, e.g. native/lean")
    front_doors = ("http", "rest", "url", "alb")
    if front_door not in front_doors:
        raise fail(f"--front-door {front_door!r} is not one of {', '.join(front_doors)}")
    if task_vcpu:
        from cost_model.container_costs import validate_fargate_size

        try:
            validate_fargate_size(task_vcpu, task_memory_gb)
        except ValueError as exc:
            raise fail(f"--task-vcpu/--task-memory-gb: {exc}") from None
    options = Options.quick_defaults() if quick else Options()
    options.slo_p99_ms = slo_ms
    out = out or Path("results") / time.strftime("%Y%m%d-%H%M%S")
    targets = build_targets(target, TargetSettings(
        bundle=bundle, runtime=runtime, door=door, variants=variant, memory_mb=memory_mb, timeout_s=timeout_s,
        concurrency=concurrency, workers=workers, front_door=front_door, task_vcpu=task_vcpu,
        task_memory_gb=task_memory_gb, function_stack=function_stack, service_stack=service_stack, region=region,
        out=out))
    import prediction_core
    from prediction_core.bundle import read_manifest

    example = (prediction_core.load(bundle, "sklearn").schema.example_instance()
               if (bundle / "manifest.json").is_file() else {})
    manifest = read_manifest(bundle) if (bundle / "manifest.json").is_file() else {}
    if manifest:
        from prediction_core.bundle import sha256_file

        manifest["manifest_sha256"] = sha256_file(bundle / "manifest.json")
    import botocore.exceptions

    from benchmarks.harness.aws import AwsSetupError
    from benchmarks.harness.runner import ScenarioFailed

    try:
        summary = run_bench(targets, names, out, options=options, example=example, repeat=repeat or (),
                            console=console, environment={"model": {k: manifest.get(k) for k in
                                                                    ("name", "version", "task", "recipe", "metrics",
                                                                     "files", "manifest_sha256")},
                                                          "options": vars(options)})
    except ScenarioFailed as exc:
        raise fail(f"{exc} — not marked done; the numbers are in {out}/raw.jsonl", code=1) from None
    except botocore.exceptions.ClientError as exc:
        raise fail(f"AWS refused a call during the run: {aws_error_line(exc)}", code=1) from None
    except AwsSetupError as exc:
        raise fail(str(exc), code=1) from None
    finally:
        while SANDBOXES:
            SANDBOXES.pop().destroy()
    print_summary(summary)
    console.print(f"results: {out}/raw.jsonl, {out}/summary.json")


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"run {summary.get('run_id')}: medians and 95% CIs (ms)")
    for col in ("target", "scenario", "step", "source", "ok/req", "cold", "429", "p50 [95% CI]", "p99", "req/s"):
        table.add_column(col, justify="right" if col not in ("target", "scenario", "source") else "left")
    for g in summary["groups"]:
        lat = g["latency_ms"]
        if lat.get("count"):
            lo, hi = lat["p50_ci95"]
            p50 = f"{lat['p50']:.2f} [{_fmt(lo, 2)}, {_fmt(hi, 2)}]"
            p99 = f"{lat['p99']:.2f}"
        else:
            p50 = p99 = ""
        table.add_row(g["target"], g["scenario"], str(g["step"]) if g["step"] is not None else "",
                      g["source"], f"{g['ok']}/{g['requests']}", str(g["cold_starts"]), str(g["throttled"]), p50,
                      p99, _fmt(g["throughput_per_s"]))
    console.print(table)
    for g in summary["groups"]:
        failed = g["requests"] - g["ok"]
        if failed and g["scenario"] not in ("limits", "saturation"):  # those two look for failures on purpose
            console.print(f"[yellow]{g['target']}/{g['scenario']}: {failed} of {g['requests']} requests failed "
                          f"(first: {g.get('first_failure')}); they are counted, not dropped[/]", highlight=False)
    for key, findings in summary["findings"].items():
        console.print(f"[bold]{key}[/]: {_compact(findings)}", highlight=False, soft_wrap=True)


def _compact(value: Any) -> Any:
    """Findings as printed: lists of samples (kept whole in summary.json) shown by their count."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) > 10:
        return f"[{len(value)} values]"
    return value
