"""Train a recipe, or wrap a user's fitted pipeline, into a verified bundle (training-time only)."""

from __future__ import annotations

import io
import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from prediction_core import lean_export, onnx_export
from prediction_core.bundle import LEAN_FILE, ONNX_FILE, SKLEARN_FILE, sha256_bytes, sha256_file, write_bundle
from prediction_core.exceptions import RecipeError, SchemaError
from prediction_core.recipes import get_recipe, resolve_params
from prediction_core.schema import InputSchema

RECORDED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "skl2onnx", "onnx", "onnxruntime")
SYNTHETIC_CHECK_ROWS = 256


@dataclass
class TrainResult:
    bundle_dir: Path
    manifest: dict[str, Any]


def library_versions(names: tuple[str, ...] = RECORDED_LIBRARIES) -> dict[str, str]:
    """Installed versions of the named distributions (absent ones are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _metrics(estimator: Any, x_test: Any, y_test: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    proba = estimator.predict_proba(x_test)
    classes = np.asarray(estimator.classes_).astype(str)
    predicted = classes[np.argmax(proba, axis=1)]
    out: dict[str, Any] = {"heldout_rows": len(y_test), "accuracy": round(float(accuracy_score(y_test, predicted)), 6)}
    present = set(y_test.tolist())
    if len(present) < 2:
        out["roc_auc"] = None
    elif len(classes) == 2:
        out["roc_auc"] = round(float(roc_auc_score(y_test == classes[1], proba[:, 1])), 6)
    else:
        out["roc_auc"] = round(float(roc_auc_score(y_test, proba, multi_class="ovr", labels=classes)), 6)
    return out


def pickle_modules(estimator: Any) -> list[str]:
    """Modules a pickle of the estimator imports when loaded (its GLOBAL / STACK_GLOBAL opcodes)."""
    import pickle
    import pickletools

    modules: set[str] = set()
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(pickle.dumps(estimator, protocol=4)):
        if opcode.name in {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE"}:
            strings.append(str(arg))
        elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
            modules.add(strings[-2])
        elif opcode.name == "GLOBAL":
            modules.add(str(arg).split(" ")[0])
    return sorted(m for m in modules if m.split(".")[0] in {"sklearn", "numpy", "scipy", "joblib"})


def _assemble(out: Path, *, estimator: Any, schema: InputSchema, check_rows: np.ndarray, name: str,
              version: str | None, extra: dict[str, Any]) -> TrainResult:
    buf = io.BytesIO()
    import joblib

    joblib.dump(estimator, buf)
    joblib_bytes = buf.getvalue()
    onnx = onnx_export.convert(estimator, schema, check_rows, graph_name=name)
    lean = lean_export.convert(estimator, schema, check_rows)
    artifacts = {SKLEARN_FILE: joblib_bytes}
    if onnx.data is not None:
        artifacts[ONNX_FILE] = onnx.data
    if lean.data is not None:
        artifacts[LEAN_FILE] = lean.data
    manifest = {
        "name": name,
        # Default version: content-derived, so the same recipe and seed give the same version.
        "version": version or sha256_bytes(joblib_bytes)[:12],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": [str(c) for c in estimator.classes_],
        "input_schema": schema.to_dict(),
        "libraries": library_versions(),
        "python": platform.python_version(),
        "onnx": onnx.manifest_entry(),
        "lean": lean.manifest_entry(),
        "pickle_modules": pickle_modules(estimator),
        **extra,
    }
    bundle_dir = write_bundle(out, artifacts=artifacts, manifest=manifest)
    return TrainResult(bundle_dir, json.loads((bundle_dir / "manifest.json").read_text()))


def train(recipe_name: str, *, out: Path, seed: int = 0, params: dict[str, Any] | None = None,
          name: str | None = None, version: str | None = None) -> TrainResult:
    """Train a registered recipe and write its bundle to `out`."""
    recipe = get_recipe(recipe_name)
    resolved = resolve_params(recipe, params or {})
    data = recipe.dataset(resolved, seed)
    estimator = recipe.estimator(resolved, seed)
    estimator.fit(data.x_train, data.y_train)
    recorded = {k: (str(Path(v).name) if k == "data" and v else v) for k, v in resolved.items()}
    extra = {
        "recipe": {"name": recipe.name, "params": recorded},
        "seed": seed,
        "training_data": {"sha256": data.sha256, "description": data.description,
                          "train_rows": len(data.y_train), "heldout_rows": len(data.y_test)},
        "metrics": _metrics(estimator, data.x_test, data.y_test),
    }
    return _assemble(out, estimator=estimator, schema=data.schema, check_rows=data.x_test,
                     name=name or recipe.name, version=version, extra=extra)


def _synthetic_rows(schema: InputSchema, seed: int) -> np.ndarray:
    """Rows spread over each feature's allowed range, to check ONNX agreement without held-out data."""
    rng = np.random.default_rng(seed)
    if schema.kind == "text":
        words = ["good", "bad", "great", "awful", "service", "slow", "fast", "love", "hate", "ok"]
        texts = [" ".join(rng.choice(words, size=rng.integers(1, 8))) for _ in range(SYNTHETIC_CHECK_ROWS)]
        arr = np.empty(len(texts), dtype=object)
        arr[:] = texts
        return arr
    cols = []
    for f in schema.features:
        lo = f.minimum if f.minimum is not None else -3.0
        hi = f.maximum if f.maximum is not None else lo + 6.0
        col = rng.uniform(lo, hi, SYNTHETIC_CHECK_ROWS)
        cols.append(np.round(col) if f.type == "integer" else col)
    return np.column_stack(cols)


def import_pipeline(model_path: Path, schema_path: Path, *, out: Path, name: str | None = None,
                    version: str | None = None, heldout_path: Path | None = None) -> TrainResult:
    """Wrap a fitted scikit-learn classifier pipeline (joblib file) and its input schema in a bundle.

    The user's own file is unpickled here: that is trusting it, as they made it. From then on the
    bundle's hashes protect it. Optional held-out data ({"instances": [...], "labels": [...]})
    adds metrics; without it ONNX agreement is checked on rows drawn from the schema's ranges.
    """
    import joblib

    try:
        schema = InputSchema.from_dict(json.loads(Path(schema_path).read_text()), where=str(schema_path))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"--schema {schema_path}: cannot read a JSON schema ({exc})") from exc
    try:
        estimator = joblib.load(model_path)
    except Exception as exc:
        raise RecipeError(f"--model {model_path}: cannot load a joblib pipeline ({exc})") from exc
    if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
        raise RecipeError(f"--model {model_path}: {type(estimator).__name__} is not a fitted classifier "
                          "with predict_proba and classes_")
    extra: dict[str, Any] = {
        "recipe": {"name": "imported", "params": {"source": Path(model_path).name}},
        "seed": None,
        "training_data": {"sha256": None, "description": "not known: imported pipeline"},
        "metrics": None,
        "source_sha256": sha256_file(Path(model_path)),
    }
    check_rows = _synthetic_rows(schema, seed=0)
    if heldout_path is not None:
        held = json.loads(Path(heldout_path).read_text())
        x = schema.validate(held.get("instances"))
        labels = held.get("labels")
        if not isinstance(labels, list) or len(labels) != len(x):
            raise SchemaError(f"{heldout_path}: 'labels' must be a list as long as 'instances'")
        y = np.array([str(v) for v in labels])
        extra["metrics"] = _metrics(estimator, x, y)
        extra["training_data"]["description"] = f"held-out data {Path(heldout_path).name}: {len(y)} rows"
        check_rows = x
    return _assemble(out, estimator=estimator, schema=schema, check_rows=check_rows,
                     name=name or Path(model_path).stem, version=version, extra=extra)
