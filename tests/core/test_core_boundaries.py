"""The core imports no web framework or AWS library, and the ONNX path never imports scikit-learn."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from prediction_core.training import TrainResult

CORE = Path(__file__).resolve().parents[2] / "prediction_core"
FORBIDDEN = {"boto3", "botocore", "fastapi", "starlette", "mangum", "aws_lambda_powertools", "aws_cdk",
             "uvicorn", "gunicorn", "awslambdaric"}


def test_core_sources_import_no_web_or_aws_library() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def _modules_after(code: str) -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_onnx_path_never_imports_sklearn(logreg_bundle: TrainResult) -> None:
    code = f"""
import json, sys, prediction_core
p = prediction_core.load({str(logreg_bundle.bundle_dir)!r}, "onnx", warmup=True)
p.predict([p.schema.example_instance()])
print(json.dumps({{m: m in sys.modules for m in ("sklearn", "scipy", "onnxruntime", "joblib")}}))
"""
    assert _modules_after(code) == {"sklearn": False, "scipy": False, "onnxruntime": True, "joblib": False}


def test_sklearn_path_does_not_import_onnxruntime(logreg_bundle: TrainResult) -> None:
    code = f"""
import json, sys, prediction_core
prediction_core.load({str(logreg_bundle.bundle_dir)!r}, "sklearn", warmup=True)
print(json.dumps({{m: m in sys.modules for m in ("sklearn", "onnxruntime")}}))
"""
    assert _modules_after(code) == {"sklearn": True, "onnxruntime": False}


def _blas_threads(preset: dict[str, str]) -> int:
    code = """
import functions, numpy, threadpoolctl
print(max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                             "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, **preset})
    return int(out.stdout)


def test_lambda_doors_pin_blas_to_one_thread_unless_configured() -> None:
    assert _blas_threads({}) == 1
    assert _blas_threads({"OPENBLAS_NUM_THREADS": "2"}) == 2  # the function's own setting wins
