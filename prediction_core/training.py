"""Train a recipe, or wrap a user's fitted pipeline, into a verified bundle (training-time only)."""

from __future__ import annotations

import io
import json
import math
import platform
from dataclasses import dataclass, replace
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
from prediction_core.staging import staged

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


CHANCE_MARGIN = 0.02  # held-out accuracy within this of the majority-class rate is "near chance"


@dataclass
class CheckSet:
    """Rows every runtime must predict before a bundle is written: JSON instances (held-out rows,
    or rows drawn within the schema), their validated form, and what the pipeline answers for them
    (probabilities, or one value per row for a regressor)."""

    instances: list[dict[str, Any]]
    rows: Any
    want: np.ndarray


def check_set(estimator: Any, schema: InputSchema, instances: list[dict[str, Any]], *, input_format: str,
              regression: bool, where: str) -> CheckSet:
    from prediction_core import tables
    from prediction_core.exceptions import InvalidInstancesError

    try:
        rows = schema.validate(instances, dtype=None)
    except InvalidInstancesError as exc:
        raise SchemaError(f"{where}: {exc.message}") from exc
    model_input = tables.model_input(rows, schema, input_format)
    try:
        raw = estimator.predict(model_input) if regression else estimator.predict_proba(model_input)
    except Exception as exc:
        raise RecipeError(f"the pipeline cannot predict {where} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:300] if str(exc) else ''}); nothing was written") from exc
    want = np.asarray(raw, dtype=np.float64).reshape(len(rows), -1)
    if regression and want.shape[1] != 1:
        raise RecipeError(f"the regressor predicts {want.shape[1]} values per row; twinserve serves single-output "
                          "regressors (one value per instance)")
    return CheckSet(list(instances), rows, want)


def _metrics(check: CheckSet, labels: list[Any], *, classes: list[str] | None) -> dict[str, Any]:
    """Held-out metrics from the pipeline's own answers: accuracy and ROC AUC for a classifier
    (and the majority-class rate, the accuracy of always answering the commonest label), R², MAE
    and RMSE for a regressor."""
    from sklearn import metrics

    out: dict[str, Any] = {"heldout_rows": len(labels)}
    if classes is None:
        y = np.asarray(labels, dtype=np.float64)
        predicted = check.want[:, 0]
        out["r2"] = round(float(metrics.r2_score(y, predicted)), 6) if len(y) > 1 else None
        out["mae"] = round(float(metrics.mean_absolute_error(y, predicted)), 6)
        out["rmse"] = round(float(np.sqrt(metrics.mean_squared_error(y, predicted))), 6)
        return out
    y_text = np.array([str(v) for v in labels])
    names = np.asarray(classes)
    predicted_labels = names[np.argmax(check.want, axis=1)]
    out["accuracy"] = round(float(metrics.accuracy_score(y_text, predicted_labels)), 6)
    counts = {c: int((y_text == c).sum()) for c in set(y_text.tolist())}
    out["majority_rate"] = round(max(counts.values()) / len(y_text), 6)
    present = set(counts)
    if len(present) < 2 or not present <= set(classes):
        out["roc_auc"] = None
    elif len(classes) == 2:
        out["roc_auc"] = round(float(metrics.roc_auc_score(y_text == classes[1], check.want[:, 1])), 6)
    else:
        out["roc_auc"] = round(float(metrics.roc_auc_score(y_text, check.want, multi_class="ovr", labels=classes)), 6)
    return out


def metric_warnings(metrics: dict[str, Any] | None, train_rows: int | None = None) -> list[str]:
    """Plain warnings when held-out quality is near chance: a bundle that serves noise should say so."""
    if not metrics:
        return []
    rows = f" ({train_rows} training rows)" if train_rows else ""
    accuracy, majority = metrics.get("accuracy"), metrics.get("majority_rate")
    if accuracy is not None and majority is not None and accuracy <= majority + CHANCE_MARGIN:
        return [f"held-out accuracy {accuracy:.2f} is no better than always answering the most frequent label "
                f"({majority:.2f}){rows}: the model has not learned much; check the data, its size and the labels"]
    if metrics.get("r2") is not None and metrics["r2"] <= 0.05:
        return [f"held-out R² {metrics['r2']:.2f} is near zero: no better than predicting the mean{rows}"]
    return []


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


def _assemble(out: Path, *, estimator: Any, schema: InputSchema, check: CheckSet, name: str,
              version: str | None, extra: dict[str, Any], input_format: str = "array",
              regression: bool = False) -> TrainResult:
    """Write the bundle only once every runtime it offers has predicted the check rows from the
    written files: it is staged beside `out` and moved into place whole, so a bundle that cannot
    predict is never written and a failed write leaves the previous bundle as it was."""
    import joblib

    buf = io.BytesIO()
    joblib.dump(estimator, buf)
    joblib_bytes = buf.getvalue()
    onnx = onnx_export.convert(estimator, schema, check.rows, check.want, graph_name=name, regression=regression)
    lean = lean_export.convert(estimator, schema, check.rows, check.want, regression=regression)
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
        "task": "regression" if regression else "classification",
        "classes": [] if regression else [str(c) for c in estimator.classes_],
        "input_schema": schema.to_dict(),
        "input_format": input_format,
        "libraries": library_versions(),
        "python": platform.python_version(),
        "onnx": onnx.manifest_entry(),
        "lean": lean.manifest_entry(),
        "pickle_modules": pickle_modules(estimator),
        **extra,
    }
    with staged(out) as staging:
        write_bundle(staging, artifacts=artifacts, manifest=manifest)
        _predicts_through_every_runtime(staging, check)
    return TrainResult(Path(out), json.loads((Path(out) / "manifest.json").read_text()))


def _predicts_through_every_runtime(bundle: Path, check: CheckSet) -> None:
    """Load the staged bundle as a door would, through each runtime it offers, and predict the
    check instances; the scikit-learn runtime must give the pipeline's own answers."""
    from prediction_core.predictor import available_runtimes, load

    manifest = json.loads((bundle / "manifest.json").read_text())
    for runtime in available_runtimes(manifest):
        try:
            predictor = load(bundle, runtime)
            answers = predictor.predict(check.instances)
        except Exception as exc:
            raise RecipeError(f"the bundle would not predict through the {runtime} runtime "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}); "
                              "nothing was written") from exc
        if runtime == "sklearn":
            key = "value" if predictor.task == "regression" else "probabilities"
            got = [a[key] if key == "value" else list(a[key].values()) for a in answers]
            if not np.allclose(np.asarray(got, dtype=np.float64).reshape(check.want.shape), check.want,
                               rtol=1e-12, atol=1e-12):
                raise RecipeError("the bundle's scikit-learn runtime answers differently from the pipeline itself "
                                  "(the input it builds is not what the pipeline was fitted on); nothing was written")


def train(recipe_name: str, *, out: Path, seed: int = 0, params: dict[str, Any] | None = None,
          name: str | None = None, version: str | None = None) -> TrainResult:
    """Train a registered recipe and write its bundle to `out`."""
    recipe = get_recipe(recipe_name)
    resolved = resolve_params(recipe, params or {})
    data = recipe.dataset(resolved, seed)
    estimator = recipe.estimator(resolved, seed)
    estimator.fit(data.x_train, data.y_train)
    recorded = {k: (str(Path(v).name) if k == "data" and v else v) for k, v in resolved.items()}
    check = check_set(estimator, data.schema, data.test_instances(), input_format="array", regression=False,
                      where="the held-out rows")
    metrics = _metrics(check, data.y_test.tolist(), classes=[str(c) for c in estimator.classes_])
    extra = {
        "recipe": {"name": recipe.name, "params": recorded},
        "seed": seed,
        "training_data": {"sha256": data.sha256, "description": data.description,
                          "train_rows": len(data.y_train), "heldout_rows": len(data.y_test)},
        "metrics": metrics,
        "warnings": metric_warnings(metrics, len(data.y_train)),
    }
    return _assemble(out, estimator=estimator, schema=data.schema, check=check,
                     name=name or recipe.name, version=version, extra=extra)


def _fitted_categories(estimator: Any) -> dict[str, tuple[list[str], bool]]:
    """Column name -> (categories, accepts unknown values) for every encoder a ColumnTransformer
    applies to a named column (directly or as a step of a pipeline inside it)."""
    found: dict[str, tuple[list[str], bool]] = {}

    def visit(obj: Any) -> None:
        for _, step in getattr(obj, "steps", []):
            visit(step)
        for _, transformer, columns in getattr(obj, "transformers_", []):
            encoders = [transformer, *(s for _, s in getattr(transformer, "steps", []))]
            for encoder in encoders:
                categories = getattr(encoder, "categories_", None)
                if categories is None or not isinstance(columns, (list, tuple)):
                    continue
                accepts = getattr(encoder, "handle_unknown", "error") != "error"
                for column, values in zip(columns, categories, strict=False):
                    if isinstance(column, str):
                        found[column] = ([str(v) for v in values if v is not None and v == v], accepts)
            visit(transformer)

    visit(estimator)
    return found


def _with_fitted_categories(schema: InputSchema, estimator: Any) -> InputSchema:
    """An open string feature gets the categories its encoder was fitted with (and the encoder's own
    unknown-value policy), so an unknown value is a 422 naming the choices, not a 500 from predict."""
    fitted = _fitted_categories(estimator)
    features = []
    for f in schema.features:
        if f.type == "string" and f.categories is None and f.name in fitted and schema.kind == "tabular":
            categories, accepts = fitted[f.name]
            f = replace(f, categories=tuple(dict.fromkeys(categories)), unknown="accept" if accepts else "refuse")
        features.append(f)
    return InputSchema(features=tuple(features), kind=schema.kind)


def check_feature_order(schema: InputSchema, estimator: Any, *, where: str) -> None:
    """The schema's features must be the pipeline's fitted columns, in order (feature_names_in_),
    or at least as many (n_features_in_): a reordered schema would feed every value to the wrong
    column and quietly predict nonsense."""
    if schema.kind == "text":
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    names = list(schema.names)
    if fitted is not None:
        fitted = [str(n) for n in fitted]
        for position, (mine, theirs) in enumerate(zip(names, fitted, strict=False)):
            if mine != theirs:
                raise SchemaError(f"{where}: feature {position} is {mine!r}, but the pipeline was fitted with "
                                  f"{theirs!r} there; list the features in the fitted order: {fitted}")
        if len(names) != len(fitted):
            raise SchemaError(f"{where}: {len(names)} features, but the pipeline was fitted on {len(fitted)}: "
                              f"{fitted}")
        return
    count = getattr(estimator, "n_features_in_", None)
    if count is not None and count != len(names):
        raise SchemaError(f"{where}: {len(names)} features, but the pipeline was fitted on {count} columns")


def _synthetic_instances(schema: InputSchema, seed: int) -> list[dict[str, Any]]:
    """Instances spread over each feature's allowed range and categories (optional fields left out
    now and then), to check the bundle's runtimes when no held-out rows are given."""
    rng = np.random.default_rng(seed)
    if schema.kind == "text":
        words = ["good", "bad", "great", "awful", "service", "slow", "fast", "love", "hate", "ok"]
        return [{schema.names[0]: " ".join(rng.choice(words, size=rng.integers(1, 8)))}
                for _ in range(SYNTHETIC_CHECK_ROWS)]
    out = []
    for i in range(SYNTHETIC_CHECK_ROWS):
        instance: dict[str, Any] = {}
        for f in schema.features:
            if f.optional and i % 7 == 3:
                continue
            if f.type == "boolean":
                instance[f.name] = bool(rng.integers(0, 2))
            elif f.type == "string":
                instance[f.name] = str(rng.choice(f.categories)) if f.categories else "example"
            else:
                lo = f.minimum if f.minimum is not None else -3.0
                hi = f.maximum if f.maximum is not None else lo + 6.0
                value = float(rng.uniform(lo, hi))
                instance[f.name] = int(min(max(round(value), math.ceil(lo)), math.floor(hi))) \
                    if f.type == "integer" else value
        out.append(instance)
    return out


def _task(estimator: Any, where: str) -> bool:
    """True for a regressor, False for a classifier; anything else is refused."""
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        return False
    if hasattr(estimator, "predict") and not hasattr(estimator, "classes_"):
        return True
    raise RecipeError(f"{where}: {type(estimator).__name__} is neither a fitted classifier (predict_proba and "
                      "classes_) nor a fitted regressor (predict)")


def import_pipeline(model_path: Path, schema_path: Path, *, out: Path, name: str | None = None,
                    version: str | None = None, heldout_path: Path | None = None) -> TrainResult:
    """Wrap a fitted scikit-learn pipeline (joblib file: a classifier or a single-output regressor)
    and its input schema in a bundle.

    The user's own file is unpickled here: that is trusting it, as they made it. From then on the
    bundle's hashes protect it. The schema must match the pipeline's fitted columns; held-out data
    ({"instances": [...], "labels": [...]}) adds metrics, else rows drawn within the schema are
    used. Every runtime the bundle offers must predict those rows before anything is written.
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
    regression = _task(estimator, f"--model {model_path}")
    check_feature_order(schema, estimator, where=f"--schema {schema_path}")
    schema = _with_fitted_categories(schema, estimator)
    input_format = "dataframe" if getattr(estimator, "feature_names_in_", None) is not None else "array"
    extra: dict[str, Any] = {
        "recipe": {"name": "imported", "params": {"source": Path(model_path).name}},
        "seed": None,
        "training_data": {"sha256": None, "description": "not known: imported pipeline"},
        "metrics": None,
        "warnings": [],
        "source_sha256": sha256_file(Path(model_path)),
    }
    if heldout_path is None:
        check = check_set(estimator, schema, _synthetic_instances(schema, seed=0), input_format=input_format,
                          regression=regression, where="rows drawn within the schema")
    else:
        try:
            held = json.loads(Path(heldout_path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SchemaError(f"--heldout {heldout_path}: cannot read JSON ({exc})") from exc
        instances, labels = (held.get("instances"), held.get("labels")) if isinstance(held, dict) else (None, None)
        if not isinstance(instances, list) or not isinstance(labels, list) or len(labels) != len(instances):
            raise SchemaError(f"--heldout {heldout_path}: expected {{\"instances\": [...], \"labels\": [...]}} "
                              "of equal length")
        check = check_set(estimator, schema, instances, input_format=input_format, regression=regression,
                          where=f"--heldout {heldout_path}")
        extra["metrics"] = _metrics(check, labels, classes=None if regression
                                    else [str(c) for c in estimator.classes_])
        extra["warnings"] = metric_warnings(extra["metrics"])
        extra["training_data"]["description"] = f"held-out data {Path(heldout_path).name}: {len(labels)} rows"
    return _assemble(out, estimator=estimator, schema=schema, check=check, name=name or Path(model_path).stem,
                     version=version, extra=extra, input_format=input_format, regression=regression)


def ensemble_size(estimator: Any) -> int | None:
    """The number of members of the pipeline's final ensemble (forests, extra trees, gradient
    boosting), or None when the model is not an ensemble whose size can be swept."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    members = getattr(final, "estimators_", None)
    if members is None or not isinstance(getattr(final, "n_estimators", None), int):
        return None
    return len(members)


def resized_bundle(bundle: Path, members: int, *, out: Path) -> TrainResult:
    """The bundle's own model with only the first `members` members of its final ensemble (a forest
    of fewer trees, or fewer boosting stages): the same model family, fitted on the same data, at
    another size. Written like an import (checked through every runtime on rows drawn within the
    schema). The bundle's model.joblib is loaded after its hash is checked."""
    import copy

    import joblib

    from prediction_core.bundle import manifest_input_format, manifest_schema, manifest_task, read_manifest, verify_file

    manifest = read_manifest(bundle)
    estimator = joblib.load(io.BytesIO(verify_file(bundle, manifest, SKLEARN_FILE)))
    size = ensemble_size(estimator)
    if size is None or not 1 <= members <= size:
        raise RecipeError(f"{bundle}: its model has {size} ensemble members; cannot keep {members}")
    resized = copy.deepcopy(estimator)
    final = resized.steps[-1][1] if hasattr(resized, "steps") else resized
    final.estimators_ = final.estimators_[:members]
    final.n_estimators = members
    if hasattr(final, "n_estimators_"):  # boosting's fitted stage count (early stopping), read by converters
        final.n_estimators_ = members
    if hasattr(final, "train_score_"):
        final.train_score_ = final.train_score_[:members]
    schema = manifest_schema(manifest)
    regression = manifest_task(manifest) == "regression"
    fmt = manifest_input_format(manifest)
    check = check_set(resized, schema, _synthetic_instances(schema, seed=0), input_format=fmt, regression=regression,
                      where="rows drawn within the schema")
    source = {"source": manifest["name"], "source_version": manifest["version"], "members": members}
    extra: dict[str, Any] = {"recipe": {"name": "resized", "params": source}, "seed": manifest.get("seed"),
                             "training_data": manifest.get("training_data"), "metrics": None, "warnings": []}
    return _assemble(out, estimator=resized, schema=schema, check=check, name=f"{manifest['name']}-{members}",
                     version=f"{manifest['version']}-{members}", extra=extra, input_format=fmt, regression=regression)
