"""Build what gets deployed: a Lambda zip (or image build context) and the container build context.

Each build copies the same core and door code, the model bundle (manifest + the runtime's
artifact only), and pins third-party packages to the versions installed here, so what is
measured locally is what is deployed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import TypeVar, cast

from prediction_core.aws_limits import LAMBDA
from prediction_core.bundle import MANIFEST_NAME, RUNTIME_FILES, manifest_input_format, read_manifest, verify_file
from prediction_core.exceptions import TwinserveError
from prediction_core.staging import staged
from twinserve.packaging.catalogue import (
    ARCHES,
    BUILD_TARGETS,
    DOOR_CODE,
    DOOR_HANDLERS,
    FORMATS,
    LAMBDA_DOORS,
    LAMBDA_PYTHON_VERSION,
    PLATFORM_TAGS,
    ROOT,
    RUNTIMES,
    TRAINING_ONLY,
    Arch,
    BuildTarget,
    Door,
    requirement_names,
)
from twinserve.packaging.report import PackageReport

MB = 1024 * 1024
LAMBDA_UNZIPPED_LIMIT_BYTES = LAMBDA.unzipped_package_bytes
LAMBDA_ZIP_DIRECT_UPLOAD_LIMIT_BYTES = LAMBDA.zip_direct_upload_bytes
STRIP_DIRS = {"__pycache__", "tests", "test"}
STRIP_SUFFIXES = {".pyc", ".pyi", ".pyx", ".pxd"}

T = TypeVar("T")


class PackagingError(TwinserveError):
    """A package could not be built (pip failed, an input is missing, an option is invalid)."""

    error_type = "packaging_error"


def pinned_requirements(door: Door, runtime: str, *, bundle: Path | None = None) -> list[str]:
    """Third-party requirements at the versions installed here (so local runs match deployments);
    with the bundle, what its model needs too (pandas for a pipeline fitted on a DataFrame)."""
    dataframe = bundle is not None and manifest_input_format(read_manifest(bundle)) == "dataframe"
    pins = []
    for name in requirement_names(door, runtime, dataframe=dataframe):  # type: ignore[arg-type]
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as exc:
            raise PackagingError(f"{name} is not installed here, so its version cannot be pinned; "
                                 "run `make install` (or pip install -e '.[lambda,service]')") from exc
    return pins


def _choice(name: str, value: str, choices: Iterable[T]) -> T:
    """`value` as one of `choices` (a closed set of names), or a PackagingError listing them."""
    options = list(choices)
    if value not in options:
        raise PackagingError(f"--{name} {value!r} is not one of {', '.join(map(str, options))}")
    return cast(T, value)


def code_files(door: Door) -> list[Path]:
    """The project source files a door ships, in a stable order (what copy_code copies)."""
    files: list[Path] = []
    for rel in DOOR_CODE[door]:
        src = ROOT / rel
        if src.is_file():
            files.append(src)
        else:
            files += sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                            and p.suffix != ".pyc" and p.name not in TRAINING_ONLY)
    return files


def code_fingerprint(door: Door) -> str:
    """SHA-256 over the door's shipped source files (paths and bytes): a local package built from
    other code is stale, and the emulator must run what would be deployed."""
    digest = hashlib.sha256()
    for path in code_files(door):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def copy_code(door: Door, dest: Path) -> None:
    for rel in DOOR_CODE[door]:
        src = ROOT / rel
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            shutil.copy2(src, target)
        else:
            shutil.copytree(src, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *TRAINING_ONLY))


def copy_bundle(bundle: Path, runtime: str, dest: Path) -> None:
    """Manifest plus the one artifact this runtime loads, verified before it is shipped."""
    manifest = read_manifest(bundle)
    artifact = RUNTIME_FILES[runtime]
    if artifact not in manifest["files"]:
        entry = manifest.get(runtime)
        why = (f" ({entry['reason']})" if isinstance(entry, dict) and entry.get("reason")
               else " (the bundle predates this runtime: train or import it again)" if entry is None else "")
        raise PackagingError(f"bundle {bundle} has no {artifact}{why}; it cannot be packaged for runtime {runtime!r}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / artifact).write_bytes(verify_file(bundle, manifest, artifact))
    shutil.copy2(bundle / MANIFEST_NAME, dest / MANIFEST_NAME)


def pip_install(requirements: list[str], dest: Path, *, target: BuildTarget, arch: Arch, python_version: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
           "--only-binary=:all:", "--target", str(dest), *requirements]
    if target == "aws":
        cmd += ["--implementation", "cp", "--python-version", python_version]
        for tag in PLATFORM_TAGS[arch]:
            cmd += ["--platform", tag]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PackagingError(f"pip could not install the requirements for {target}/{arch}/Python {python_version}:\n"
                             + proc.stderr.strip()[-2000:])


def strip_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in STRIP_DIRS and "prediction_core" not in path.parts:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in STRIP_SUFFIXES:
            path.unlink()
    shutil.rmtree(root / "bin", ignore_errors=True)  # console scripts of dependencies: not used on Lambda


def precompile(root: Path, python_version: str) -> str:
    """Ship bytecode: Lambda's /var/task is read-only, so without .pyc files every cold start
    compiles every imported module again. unchecked-hash .pyc files are used as they are, which
    suits an immutable package (a timestamp check would fail: zip entries carry 1980 dates).
    Needs an interpreter of the target version; returns what was done, for the report."""
    python = find_python(python_version)
    if python is None:
        return f"not precompiled: no working python{python_version} here (Lambda will compile at every cold start)"
    proc = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                           str(root)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        failed = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("***")]
        return (f"precompiled with Python {python_version}, except {len(failed)} file(s) it could not compile "
                f"(first: {failed[0][:120] if failed else proc.stderr.strip()[-120:]})")
    return f"precompiled with Python {python_version} (unchecked-hash .pyc)"


def find_python(version: str) -> str | None:
    """A working interpreter of exactly this version: this one, one on PATH, or one pyenv installed
    (pyenv's shims refuse versions that are not selected, so each candidate is run once)."""
    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version == local:
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(str(p) for p in (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def largest_packages(root: Path, count: int = 6) -> dict[str, float]:
    sizes = {p.name: tree_bytes(p) for p in root.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")}
    top = sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:count]
    return {name: round(size / MB, 1) for name, size in top}


def write_zip(src: Path, zip_path: Path) -> int:
    """A reproducible zip: sorted entries, fixed timestamps, so identical inputs give identical bytes."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(src)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return zip_path.stat().st_size


def size_advice(report: PackageReport) -> None:
    if report.unzipped_bytes > LAMBDA_UNZIPPED_LIMIT_BYTES:
        report.over_limit = True
        report.advice.append(
            f"unzipped size {report.unzipped_bytes / MB:,.1f} MB is over Lambda's "
            f"{LAMBDA_UNZIPPED_LIMIT_BYTES / MB:,.0f} MB limit for zip packages"
            + (" (the scikit-learn + SciPy + NumPy stack alone is about 270 MB for Python 3.12)"
               if report.runtime == "sklearn" else "")
            + ": use --runtime onnx (onnxruntime + NumPy is far smaller), or --format image "
              "(a Lambda container image may be up to 10 GB)")
    if report.zipped_bytes and report.zipped_bytes > LAMBDA_ZIP_DIRECT_UPLOAD_LIMIT_BYTES:
        report.advice.append(
            f"zip is {report.zipped_bytes / MB:,.1f} MB, over the {LAMBDA_ZIP_DIRECT_UPLOAD_LIMIT_BYTES / MB:,.0f} MB "
            "direct-upload limit: deploy it through "
            "S3 (the CDK app does this for you) or use --format image")


def build_lambda(*, bundle: Path, runtime: str, door: str, arch: str = "x86_64",
                 python_version: str = LAMBDA_PYTHON_VERSION, target: str = "aws", fmt: str = "zip",
                 out: Path) -> PackageReport:
    """Build a Lambda deployment directory + zip (fmt=zip) or a container-image build context (fmt=image)."""
    _choice("runtime", runtime, RUNTIMES)
    door_ = _choice("door", door, LAMBDA_DOORS)
    arch_ = _choice("arch", arch, ARCHES)
    target_ = _choice("target", target, BUILD_TARGETS)
    _choice("format", fmt, FORMATS)
    local_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if target_ == "local":
        python_version = local_version
        arch_ = _choice("arch", {"aarch64": "arm64"}.get(platform.machine(), platform.machine()), ARCHES)
    requirements = pinned_requirements(door_, runtime, bundle=bundle)
    report = PackageReport(door=door_, runtime=runtime, arch=arch_, python_version=python_version, target=target_,
                           handler=DOOR_HANDLERS[door_], requirements=requirements,
                           code_sha256=code_fingerprint(door_))
    with staged(out) as stage:
        _build_lambda_into(stage, out, report, bundle=bundle, fmt=fmt)
    return report


def _build_lambda_into(stage: Path, out: Path, report: PackageReport, *, bundle: Path, fmt: str) -> None:
    """The package or image context, built in `stage`; paths in the report are where it will live (`out`)."""
    requirements = report.requirements
    package = stage / ("context" if fmt == "image" else "package")
    copy_code(cast(Door, report.door), package)
    copy_bundle(bundle, report.runtime, package / "model")
    (stage / "requirements.txt").write_text("\n".join(requirements) + "\n")
    report.package_dir = str(out / package.name)
    if fmt == "image":
        shutil.copy2(stage / "requirements.txt", package / "requirements.txt")
        dockerfile = (ROOT / "functions" / "Dockerfile").read_text()
        default_cmd = f'CMD ["{DOOR_HANDLERS["native"]}"]'
        (package / "Dockerfile").write_text(dockerfile.replace(default_cmd, f'CMD ["{report.handler}"]'))
        report.unzipped_bytes = tree_bytes(package)
    else:
        pip_install(requirements, package, target=report.target, arch=report.arch,  # type: ignore[arg-type]
                    python_version=report.python_version)
        strip_tree(package)
        report.bytecode = precompile(package, report.python_version)
        report.unzipped_bytes = tree_bytes(package)
        report.largest_packages_mb = largest_packages(package)
        report.zipped_bytes = write_zip(package, stage / "function.zip")
        report.zip_path = str(out / "function.zip")
        size_advice(report)
    report.write(stage)


def build_container_context(*, bundle: Path, runtime: str, out: Path) -> Path:
    """The docker build context for the container service: code, model, pinned requirements, Dockerfile."""
    _choice("runtime", runtime, RUNTIMES)
    requirements = pinned_requirements("service", runtime, bundle=bundle)
    with staged(out) as stage:
        copy_code("service", stage)
        copy_bundle(bundle, runtime, stage / "model")
        (stage / "requirements.txt").write_text("\n".join(requirements) + "\n")
        shutil.copy2(ROOT / "container_service" / "Dockerfile", stage / "Dockerfile")
        (stage / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    return out
