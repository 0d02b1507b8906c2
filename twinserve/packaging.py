"""Build what gets deployed: a Lambda zip (or image build context) and the container build context.

Each build copies the same core and door code, the model bundle (manifest + the runtime's
artifact only), and pins third-party packages to the versions installed here, so what is
measured locally is what is deployed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from prediction_core.bundle import MANIFEST_NAME, RUNTIME_FILES, read_manifest, verify_file
from prediction_core.exceptions import TwinserveError

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# Lambda deployment package quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * MB
LAMBDA_ZIP_DIRECT_UPLOAD_LIMIT_BYTES = 50 * MB
LAMBDA_PYTHON_VERSION = "3.12"

COMMON_REQUIREMENTS = ["numpy", "orjson"]
RUNTIME_REQUIREMENTS = {"onnx": ["onnxruntime"], "sklearn": ["scikit-learn", "scipy", "joblib"]}
DOOR_REQUIREMENTS = {
    "native": ["aws-lambda-powertools"],
    "asgi": ["fastapi", "mangum", "pydantic-settings"],
    # boto3 for MODEL_URI=s3://…; Lambda provides boto3 itself, a container does not.
    "service": ["fastapi", "pydantic-settings", "gunicorn", "uvicorn", "uvicorn-worker", "uvloop", "httptools",
                "boto3"],
}
# Project code each door needs, relative to the repository root (training modules stay out).
DOOR_CODE = {
    "native": ["prediction_core", "functions/__init__.py", "functions/predict"],
    "asgi": ["prediction_core", "container_service", "functions/__init__.py", "functions/asgi"],
    "service": ["prediction_core", "container_service"],
}
DOOR_HANDLERS = {"native": "functions.predict.handler.handler", "asgi": "functions.asgi.handler.handler"}
TRAINING_ONLY = {"training.py", "recipes.py", "onnx_export.py"}
# pip --platform tags Lambda's Python 3.12 (Amazon Linux 2023, glibc 2.34) can load, newest first.
PLATFORM_TAGS = {arch: [f"manylinux_2_34_{m}", f"manylinux_2_28_{m}", f"manylinux_2_17_{m}", f"manylinux2014_{m}"]
                 for arch, m in (("x86_64", "x86_64"), ("arm64", "aarch64"))}
STRIP_DIRS = {"__pycache__", "tests", "test"}
STRIP_SUFFIXES = {".pyc", ".pyi", ".pyx", ".pxd"}


class PackagingError(TwinserveError):
    """A package could not be built (pip failed, an input is missing, an option is invalid)."""

    error_type = "packaging_error"


@dataclass
class PackageReport:
    door: str
    runtime: str
    arch: str
    python_version: str
    target: str  # "aws" (manylinux wheels for Lambda) or "local" (this machine, for the emulator)
    handler: str | None
    requirements: list[str]
    unzipped_bytes: int = 0
    zipped_bytes: int | None = None
    largest_packages_mb: dict[str, float] = field(default_factory=dict)
    over_limit: bool = False
    advice: list[str] = field(default_factory=list)
    package_dir: str = ""
    zip_path: str | None = None
    bytecode: str = ""
    code_sha256: str = ""  # of the project code shipped (see code_fingerprint)

    def write(self, out: Path) -> Path:
        path = out / "package-report.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def pinned_requirements(door: str, runtime: str) -> list[str]:
    """Third-party requirements at the versions installed here (so local runs match deployments)."""
    names = COMMON_REQUIREMENTS + RUNTIME_REQUIREMENTS[runtime] + DOOR_REQUIREMENTS[door]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as exc:
            raise PackagingError(f"{name} is not installed here, so its version cannot be pinned; "
                                 "run `make install` (or pip install -e '.[lambda,service]')") from exc
    return pins


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        raise PackagingError(f"--{name} {value!r} is not one of {', '.join(options)}")


def code_files(door: str) -> list[Path]:
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


def code_fingerprint(door: str) -> str:
    """SHA-256 over the door's shipped source files (paths and bytes): a local package built from
    other code is stale, and the emulator must run what would be deployed."""
    digest = hashlib.sha256()
    for path in code_files(door):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def copy_code(door: str, dest: Path) -> None:
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
        raise PackagingError(f"bundle {bundle} has no {artifact}; it cannot be packaged for runtime {runtime!r}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / artifact).write_bytes(verify_file(bundle, manifest, artifact))
    shutil.copy2(bundle / MANIFEST_NAME, dest / MANIFEST_NAME)


def pip_install(requirements: list[str], dest: Path, *, target: str, arch: str, python_version: str) -> None:
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
            f"unzipped size {report.unzipped_bytes / MB:,.1f} MB is over Lambda's 250 MB limit for zip packages"
            + (" (the scikit-learn + SciPy + NumPy stack alone is about 270 MB for Python 3.12)"
               if report.runtime == "sklearn" else "")
            + ": use --runtime onnx (onnxruntime + NumPy is far smaller), or --format image "
              "(a Lambda container image may be up to 10 GB)")
    if report.zipped_bytes and report.zipped_bytes > LAMBDA_ZIP_DIRECT_UPLOAD_LIMIT_BYTES:
        report.advice.append(
            f"zip is {report.zipped_bytes / MB:,.1f} MB, over the 50 MB direct-upload limit: deploy it through "
            "S3 (the CDK app does this for you) or use --format image")


def build_lambda(*, bundle: Path, runtime: str, door: str, arch: str = "x86_64",
                 python_version: str = LAMBDA_PYTHON_VERSION, target: str = "aws", fmt: str = "zip",
                 out: Path) -> PackageReport:
    """Build a Lambda deployment directory + zip (fmt=zip) or a container-image build context (fmt=image)."""
    _check_choice("runtime", runtime, RUNTIME_REQUIREMENTS)
    _check_choice("door", door, DOOR_HANDLERS)
    _check_choice("arch", arch, PLATFORM_TAGS)
    _check_choice("target", target, ("aws", "local"))
    _check_choice("format", fmt, ("zip", "image"))
    local_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if target == "local":
        python_version = local_version
        arch = {"aarch64": "arm64"}.get(platform.machine(), platform.machine())
    requirements = pinned_requirements(door, runtime)
    report = PackageReport(door=door, runtime=runtime, arch=arch, python_version=python_version, target=target,
                           handler=DOOR_HANDLERS[door], requirements=requirements,
                           code_sha256=code_fingerprint(door))
    if out.exists():
        shutil.rmtree(out)
    package = out / ("context" if fmt == "image" else "package")
    copy_code(door, package)
    copy_bundle(bundle, runtime, package / "model")
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    report.package_dir = str(package)
    if fmt == "image":
        shutil.copy2(out / "requirements.txt", package / "requirements.txt")
        dockerfile = (ROOT / "functions" / "Dockerfile").read_text()
        default_cmd = f'CMD ["{DOOR_HANDLERS["native"]}"]'
        (package / "Dockerfile").write_text(dockerfile.replace(default_cmd, f'CMD ["{DOOR_HANDLERS[door]}"]'))
        report.unzipped_bytes = tree_bytes(package)
    else:
        pip_install(requirements, package, target=target, arch=arch, python_version=python_version)
        strip_tree(package)
        report.bytecode = precompile(package, python_version)
        report.unzipped_bytes = tree_bytes(package)
        report.largest_packages_mb = largest_packages(package)
        zip_path = out / "function.zip"
        report.zipped_bytes = write_zip(package, zip_path)
        report.zip_path = str(zip_path)
        size_advice(report)
    report.write(out)
    return report


def build_container_context(*, bundle: Path, runtime: str, out: Path) -> Path:
    """The docker build context for the container service: code, model, pinned requirements, Dockerfile."""
    _check_choice("runtime", runtime, RUNTIME_REQUIREMENTS)
    if out.exists():
        shutil.rmtree(out)
    copy_code("service", out)
    copy_bundle(bundle, runtime, out / "model")
    (out / "requirements.txt").write_text("\n".join(pinned_requirements("service", runtime)) + "\n")
    shutil.copy2(ROOT / "container_service" / "Dockerfile", out / "Dockerfile")
    (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    return out


def ensure_local_package(bundle: Path, door: str, runtime: str, root: Path = Path("build/lambda")) -> Path:
    """A package for this machine with this bundle, built unless an up-to-date one exists."""
    out = root / f"{door}-{runtime}-local"
    if not local_package_is_fresh(out, bundle, door, runtime):
        build_lambda(bundle=bundle, runtime=runtime, door=door, target="local", out=out)
    return out


def local_package_is_fresh(out: Path, bundle: Path, door: str, runtime: str) -> bool:
    """Built here from the same model version, the same project code and the same pinned requirements."""
    shipped = out / "package" / "model" / MANIFEST_NAME
    report_path = out / "package-report.json"
    if not (report_path.is_file() and shipped.is_file()):
        return False
    built = json.loads(report_path.read_text())
    return bool(json.loads(shipped.read_text())["version"] == read_manifest(bundle)["version"]
                and built.get("target") == "local"
                and built.get("code_sha256") == code_fingerprint(door)
                and built.get("requirements") == pinned_requirements(door, runtime))
