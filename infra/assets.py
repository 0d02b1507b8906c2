"""What the stacks deploy, built by the project's own packager at synth time for the configured
door, runtime and architecture: the Lambda zip (CDK local bundling, no Docker), the Lambda image
context and the container context. A prebuilt directory can be named instead (`package_dir`,
`image_dir`, `container_dir`); its package report must then match the template."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_

from infra.config import ConfigError, DeploymentConfig
from prediction_core.bundle import MANIFEST_NAME, RUNTIME_FILES, read_manifest, verify_bundle
from prediction_core.exceptions import TwinserveError
from twinserve.packaging import (
    build_container_context,
    build_lambda,
    code_fingerprint,
    pinned_requirements,
    read_package_report,
)
from twinserve.packaging.catalogue import LAMBDA_PYTHON_VERSION, Door

PLATFORMS = {"x86_64": ecr_assets.Platform.LINUX_AMD64, "arm64": ecr_assets.Platform.LINUX_ARM64}
BUILT_ROOT = Path("build/cdk")
DEFAULT_BUNDLE = "build/bundles/default"
# Never run: the Lambda zip is always built locally (LocalPackager says so), but CDK's bundling
# options require an image.
UNUSED_BUNDLING_IMAGE = "public.ecr.aws/sam/build-python3.12"


def check_model(model_dir: Path, config: DeploymentConfig, what: str) -> None:
    """A prebuilt package must hold a model that verifies and offers the configured runtime's file:
    a function without one would fail at every INIT once deployed."""
    try:
        manifest = read_manifest(model_dir)
        verify_bundle(model_dir, manifest)
    except TwinserveError as exc:
        raise ConfigError(f"{what} has no usable model in {model_dir} ({exc.message}): rebuild it with "
                          "`twinserve package`, or drop the prebuilt directory so synth builds it") from None
    if RUNTIME_FILES[config.runtime] not in manifest["files"]:
        raise ConfigError(f"{what}: its model has no {RUNTIME_FILES[config.runtime]} for runtime={config.runtime!r}")


def check_report(report: dict[str, Any] | None, config: DeploymentConfig, what: str) -> None:
    """A package must be what the template says it is: architecture, handler (door) and runtime,
    as its package-report.json (written by `twinserve package`) records."""
    if report is None:
        raise ConfigError(f"{what} has no package-report.json, so what it holds cannot be checked: build it with "
                          "`twinserve package`, or drop the prebuilt directory so synth builds it")
    wanted = {"arch": config.arch, "door": config.door, "runtime": config.runtime}
    for key, value in wanted.items():
        if report.get(key) not in (None, value):
            raise ConfigError(f"{what} was built with {key}={report.get(key)!r} but the template deploys "
                              f"{key}={value!r}: rebuild it, or drop the prebuilt directory so synth builds it")
    if report.get("target") not in (None, "aws"):
        raise ConfigError(f"{what} was built for {report.get('target')!r}, not for AWS (--target aws)")


def _bundle(config: DeploymentConfig) -> Path:
    """The bundle to deploy. The default one is trained (the default recipe, a few seconds) when it
    is missing, so `npx cdk synth` works on a fresh checkout; a bundle the user named must exist."""
    bundle = Path(config.bundle)
    if (bundle / MANIFEST_NAME).is_file():
        return bundle
    if bundle != Path(DEFAULT_BUNDLE):
        raise ConfigError(f"no model bundle at {bundle}: run `twinserve train --out {bundle}`, or pass -c bundle=DIR")
    from prediction_core.recipes import DEFAULT_RECIPE
    from prediction_core.training import train

    sys.stderr.write(f"twinserve: no model at {bundle}; training the default recipe ({DEFAULT_RECIPE}) into it\n")
    train(DEFAULT_RECIPE, out=bundle)
    return bundle


def lambda_fingerprint(config: DeploymentConfig) -> str:
    """Everything the zip is built from: model version, shipped code, pinned requirements, target."""
    bundle = _bundle(config)
    manifest = read_manifest(bundle)
    door = cast(Door, config.door)  # validated by DeploymentConfig
    parts = [manifest["version"], code_fingerprint(door), *pinned_requirements(door, config.runtime, bundle=bundle),
             config.arch, config.runtime, config.door, LAMBDA_PYTHON_VERSION]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@jsii.implements(ILocalBundling)
class LocalPackager:
    """CDK local bundling that runs `twinserve package lambda` for the configured door, runtime and
    architecture, and ships its package report inside the asset (so the deployed code says what it is)."""

    def __init__(self, config: DeploymentConfig, bundle: Path) -> None:
        self.config = config
        self.bundle = bundle

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        with tempfile.TemporaryDirectory(prefix="twinserve-lambda-") as tmp:
            try:
                report = build_lambda(bundle=self.bundle, runtime=self.config.runtime, door=self.config.door,
                                      arch=self.config.arch, target="aws", fmt="zip", out=Path(tmp))
            except TwinserveError as exc:
                raise ConfigError(f"building the Lambda package failed: {exc.message}") from None
            if report.over_limit:
                raise ConfigError("; ".join(report.advice))
            shutil.copytree(Path(tmp) / "package", output_dir, dirs_exist_ok=True, symlinks=True)
            report.package_dir = "."
            report.zip_path = None
            report.write(Path(output_dir))
        return True


def lambda_zip_code(config: DeploymentConfig) -> lambda_.Code:
    if config.package_dir:
        package = Path(config.package_dir)
        check_report(read_package_report(package.parent) or read_package_report(package), config,
                     f"package_dir {package}")
        check_model(package / "model", config, f"package_dir {package}")
        return lambda_.Code.from_asset(str(package))
    bundle = _bundle(config)
    return lambda_.Code.from_asset(
        str(bundle), asset_hash_type=AssetHashType.CUSTOM, asset_hash=lambda_fingerprint(config),
        bundling=BundlingOptions(image=DockerImage.from_registry(UNUSED_BUNDLING_IMAGE),
                                 local=LocalPackager(config, bundle)))


def lambda_image_code(config: DeploymentConfig) -> lambda_.DockerImageCode:
    if config.image_dir:
        context = Path(config.image_dir)
        check_report(read_package_report(context.parent), config, f"image_dir {context}")
        check_model(context / "model", config, f"image_dir {context}")
    else:
        out = BUILT_ROOT / f"lambda-image-{config.door}-{config.runtime}"
        _rebuild_if_stale(out, config, cast(Door, config.door), lambda: build_lambda(
            bundle=_bundle(config), runtime=config.runtime, door=config.door, arch=config.arch, target="aws",
            fmt="image", out=out))
        context = out / "context"
    return lambda_.DockerImageCode.from_image_asset(str(context), cmd=[config.handler],
                                                    platform=PLATFORMS[config.arch])


def container_context(config: DeploymentConfig) -> Path:
    if config.container_dir:
        check_model(Path(config.container_dir) / "model", config, f"container_dir {config.container_dir}")
        return Path(config.container_dir)
    out = BUILT_ROOT / f"container-{config.runtime}"
    _rebuild_if_stale(out, config, "service", lambda: build_container_context(
        bundle=_bundle(config), runtime=config.runtime, out=out))
    return out


def _rebuild_if_stale(out: Path, config: DeploymentConfig, door: Door, build: Callable[[], object]) -> None:
    """Build into `out` (the code of `door`) unless it was built from the same inputs (kept in a
    stamp beside it)."""
    stamp = out.with_name(out.name + ".inputs.json")
    manifest = read_manifest(_bundle(config))
    inputs = {"model": manifest["version"], "code": code_fingerprint(door),
              "runtime": config.runtime, "door": config.door, "arch": config.arch}
    if out.is_dir() and stamp.is_file() and json.loads(stamp.read_text()) == inputs:
        return
    try:
        build()
    except TwinserveError as exc:
        raise ConfigError(f"building {out} failed: {exc.message}") from None
    stamp.write_text(json.dumps(inputs))

