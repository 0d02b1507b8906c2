"""Bring your own model: pipelines as teams fit them import safely, or are refused with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

import prediction_core
from prediction_core.exceptions import InvalidInstancesError, RecipeError, SchemaError
from prediction_core.training import TrainResult, import_pipeline, train
from tests.byo_models import BYO_MODELS, ByoModel, customers


@pytest.fixture(scope="module")
def byo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ByoModel, TrainResult]]:
    root = tmp_path_factory.mktemp("byo")
    out = {}
    for name, make in BYO_MODELS.items():
        model = make(root / "models")
        out[name] = model, import_pipeline(model.model, model.schema, out=root / name, heldout_path=model.heldout)
    return out


def _answers(bundle: Path, runtime: str, instances: list[dict[str, Any]]) -> np.ndarray:
    answers = prediction_core.load(bundle, runtime).predict(instances)
    return np.array([[a["value"]] if "value" in a else list(a["probabilities"].values()) for a in answers])


@pytest.mark.parametrize(("name", "task", "fmt", "runtimes"), [
    ("dataframe-columns", "classification", "dataframe", {"sklearn", "onnx"}),
    ("boosting-multiclass", "classification", "dataframe", {"sklearn", "onnx"}),
    ("ridge-regression", "regression", "array", {"sklearn", "onnx", "lean"}),
])
def test_each_model_imports_and_every_runtime_answers_as_scikit_learn(
        byo: dict[str, tuple[ByoModel, TrainResult]], name: str, task: str, fmt: str, runtimes: set[str]) -> None:
    model, result = byo[name]
    manifest = result.manifest
    assert (manifest["task"], manifest["input_format"]) == (task, fmt)
    assert set(prediction_core.available_runtimes(manifest)) == runtimes
    want = _answers(result.bundle_dir, "sklearn", model.instances)
    scale = max(1.0, float(np.abs(want).max()))
    for runtime in runtimes - {"sklearn"}:
        got = _answers(result.bundle_dir, runtime, model.instances)
        assert np.abs(got - want).max() <= (1e-9 if runtime == "lean" else 1e-5) * scale, runtime
    if task == "classification":
        assert manifest["metrics"]["accuracy"] > manifest["metrics"]["majority_rate"] + 0.1
    else:
        assert manifest["metrics"]["r2"] > 0.3 and prediction_core.load(result.bundle_dir).predict(
            model.instances[:1])[0].keys() == {"value"}
    assert manifest["warnings"] == []


def test_an_encoders_categories_become_the_schemas_and_an_unknown_one_is_a_clear_422(
        byo: dict[str, tuple[ByoModel, TrainResult]]) -> None:
    model, result = byo["dataframe-columns"]
    plan = next(f for f in result.manifest["input_schema"]["features"] if f["name"] == "plan")
    assert (plan["categories"], plan["unknown"]) == (["basic", "plus", "pro"], "refuse")
    for runtime in ("sklearn", "onnx"):
        with pytest.raises(InvalidInstancesError, match="'gold' is not one of the categories 'basic', 'plus'"):
            prediction_core.load(result.bundle_dir, runtime).predict([{**model.instances[0], "plan": "gold"}])


def test_a_reversed_schema_is_refused_naming_the_first_mismatched_column(
        byo: dict[str, tuple[ByoModel, TrainResult]], tmp_path: Path) -> None:
    model, _ = byo["boosting-multiclass"]
    schema = json.loads(model.schema.read_text())
    schema["features"].reverse()
    (tmp_path / "reversed.json").write_text(json.dumps(schema))
    with pytest.raises(SchemaError, match="feature 0 is 'petal_width', but the pipeline was fitted with "
                                          "'sepal_length' there"):
        import_pipeline(model.model, tmp_path / "reversed.json", out=tmp_path / "bundle", heldout_path=model.heldout)
    assert not (tmp_path / "bundle").exists()


def test_a_model_that_cannot_predict_is_refused_and_the_previous_bundle_stays(
        byo: dict[str, tuple[ByoModel, TrainResult]], tmp_path: Path) -> None:
    model, result = byo["dataframe-columns"]
    out = Path(shutil.copytree(result.bundle_dir, tmp_path / "bundle"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    schema = json.loads(model.schema.read_text())
    schema["features"][2]["categories"] = ["basic", "plus", "pro", "gold"]  # one the encoder never saw
    (tmp_path / "gold.json").write_text(json.dumps(schema))
    with pytest.raises(RecipeError, match=r"the pipeline cannot predict rows drawn within the schema \(ValueError: "
                                          r"Found unknown categories \['gold'\].*nothing was written"):
        import_pipeline(model.model, tmp_path / "gold.json", out=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "gold.json"]


def test_an_optional_field_reaches_the_pipelines_imputer_as_missing(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, y = customers()
    frame = frame[["tenure_months", "monthly_spend", "plan", "paperless"]]
    pipeline = make_pipeline(ColumnTransformer([
        ("spend", SimpleImputer(strategy="median"), ["monthly_spend"]),
        ("rest", "passthrough", ["tenure_months", "paperless"]),
        ("plan", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore")), ["plan"])]),
        LogisticRegression(max_iter=1000)).fit(frame, y)
    joblib.dump(pipeline, tmp_path / "m.joblib")
    (tmp_path / "s.json").write_text(json.dumps({"features": [
        {"name": "tenure_months", "type": "integer", "minimum": 0, "maximum": 120},
        {"name": "monthly_spend", "type": "number", "minimum": 0, "maximum": 1000, "optional": True},
        {"name": "plan", "type": "string", "optional": True},
        {"name": "paperless", "type": "boolean"}]}))
    result = import_pipeline(tmp_path / "m.joblib", tmp_path / "s.json", out=tmp_path / "b")
    plan = result.manifest["input_schema"]["features"][2]
    assert plan["unknown"] == "accept"  # OneHotEncoder(handle_unknown="ignore") encodes it as all zeros
    predictor = prediction_core.load(result.bundle_dir, "sklearn")
    full = predictor.predict([{"tenure_months": 3, "monthly_spend": 99.0, "plan": "basic", "paperless": True}])
    sparse = predictor.predict([{"tenure_months": 3, "paperless": True, "monthly_spend": None},
                                {"tenure_months": 3, "paperless": False, "plan": "new-plan"}])
    assert full[0]["label"] in {"churn", "stay"} and len(sparse) == 2
    with pytest.raises(InvalidInstancesError, match=r"instance 0\.paperless: expected a boolean, got number"):
        predictor.predict([{"tenure_months": 3, "paperless": 1}])


def test_a_regressor_answers_a_value_and_a_multi_output_one_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(50, 2))
    joblib.dump(LinearRegression().fit(x, np.column_stack([x[:, 0], x[:, 1]])), tmp_path / "two.joblib")
    (tmp_path / "s.json").write_text(json.dumps({"features": [{"name": "a", "type": "number"},
                                                              {"name": "b", "type": "number"}]}))
    with pytest.raises(RecipeError, match="predicts 2 values per row; twinserve serves single-output"):
        import_pipeline(tmp_path / "two.joblib", tmp_path / "s.json", out=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_recipe_whose_metrics_are_near_chance_says_so(tmp_path: Path) -> None:
    # The same sentences under both labels: nothing to learn, so accuracy is at best the majority rate.
    lines = [f"{'the service was fine' if i % 3 else 'an ordinary day'}\t{i % 2}" for i in range(40)]
    (tmp_path / "noise.txt").write_text("\n".join(lines) + "\n")
    result = train("text-sentiment", out=tmp_path / "noise", params={"data": str(tmp_path / "noise.txt")})
    metrics = result.manifest["metrics"]
    assert metrics["accuracy"] <= metrics["majority_rate"] + 0.02
    assert len(result.manifest["warnings"]) == 1
    assert "no better than always answering the most frequent label" in result.manifest["warnings"][0]
