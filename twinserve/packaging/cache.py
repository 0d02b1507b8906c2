"""Local packages for the emulator: built once, rebuilt only when the model, the shipped code or the
pinned requirements change; and a package's copy with another model in it (the model-size sweep)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import cast

from prediction_core.bundle import MANIFEST_NAME, read_manifest
from twinserve.packaging.build import build_lambda, code_fingerprint, copy_bundle, pinned_requirements
from twinserve.packaging.catalogue import Door
from twinserve.packaging.report import REPORT_NAME, read_package_report

LOCAL_PACKAGES = Path("build/lambda")


def ensure_local_package(bundle: Path, door: str, runtime: str, root: Path = LOCAL_PACKAGES) -> Path:
    """A package for this machine with this bundle, built unless an up-to-date one exists."""
    out = root / f"{door}-{runtime}-local"
    if not local_package_is_fresh(out, bundle, door, runtime):
        build_lambda(bundle=bundle, runtime=runtime, door=door, target="local", out=out)
    return out


def local_package_is_fresh(out: Path, bundle: Path, door: str, runtime: str) -> bool:
    """Built here from the same model version, the same project code and the same pinned requirements."""
    shipped = out / "package" / "model" / MANIFEST_NAME
    built = read_package_report(out)
    if built is None or not shipped.is_file():
        return False
    return bool(json.loads(shipped.read_text())["version"] == read_manifest(bundle)["version"]
                and built.get("target") == "local"
                and built.get("code_sha256") == code_fingerprint(cast(Door, door))
                and built.get("requirements") == pinned_requirements(cast(Door, door), runtime, bundle=bundle))


def copy_package_with_model(package: Path, bundle: Path, runtime: str, dest: Path) -> Path:
    """The same deployment package with another model in it (no reinstall of dependencies)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(package, dest, symlinks=True)
    shutil.rmtree(dest / "package" / "model")
    copy_bundle(bundle, runtime, dest / "package" / "model")
    report = (dest / REPORT_NAME).read_text().replace(str(package / "package"), str(dest / "package"))
    (dest / REPORT_NAME).write_text(report)
    return dest
