"""Recipes, manifests, reproducibility, ONNX conversion outcomes, bring-your-own import."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest

import prediction_core
from prediction_core import RecipeError, RuntimeNotAvailableError, SchemaError
from prediction_core.recipes import RECIPES
from prediction_core.training import TrainResult, import_pipeline, train

MANIFEST_KEYS = {"name", "version", "created_at", "recipe", "seed", "training_data", "libraries", "input_schema",
                 "metrics", "files", "classes", "onnx", "format", "python", "pickle_modules"}


def test_registry_has_the_documented_recipes() -> None:
    assert set(RECIPES) == {"breast-cancer-logreg", "breast-cancer-forest", "text-sentiment"}


def test_manifest_records_what_a_reviewer_needs(bundles: dict[str, TrainResult]) -> None:
    for result in bundles.values():
        m = result.manifest
        assert set(m) >= MANIFEST_KEYS
        assert len(m["training_data"]["sha256"]) == 64
        assert {"scikit-learn", "numpy", "skl2onnx"} <= set(m["libraries"])
        assert 0.8 <= m["metrics"]["accuracy"] <= 1.0
        assert 0.8 <= m["metrics"]["roc_auc"] <= 1.0
        assert m["onnx"]["status"] == "converted"


def test_forest_parameters_are_recorded(forest_bundle: TrainResult) -> None:
    assert forest_bundle.manifest["recipe"] == {"name": "breast-cancer-forest", "params": {"trees": 25}}


def test_same_recipe_and_seed_give_the_same_bundle(logreg_bundle: TrainResult, tmp_path: Path) -> None:
    again = train("breast-cancer-logreg", out=tmp_path / "again")
    first = {k: v for k, v in logreg_bundle.manifest.items() if k != "created_at"}
    second = {k: v for k, v in again.manifest.items() if k != "created_at"}
    assert first == second
    rows = prediction_core.load(again.bundle_dir).schema.example_instance()
    assert prediction_core.load(again.bundle_dir).predict([rows]) == \
        prediction_core.load(logreg_bundle.bundle_dir).predict([rows])


def test_another_seed_gives_another_version(forest_bundle: TrainResult, tmp_path: Path) -> None:
    other = train("breast-cancer-forest", out=tmp_path / "seed1", seed=1, params={"trees": 25})
    assert other.manifest["version"] != forest_bundle.manifest["version"]


@pytest.mark.parametrize(
    ("recipe", "params", "fragment"),
    [
        ("no-such-recipe", {}, "choose one of breast-cancer-logreg"),
        ("breast-cancer-forest", {"trees": 0}, "--trees must be an integer from 1 to 5000"),
        ("breast-cancer-logreg", {"trees": 3}, "takes ['c'], not ['trees']"),
        ("text-sentiment", {}, "needs --data FILE"),
    ],
)
def test_bad_recipe_requests(recipe: str, params: dict[str, object], fragment: str, tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as info:
        train(recipe, out=tmp_path / "b", params=params)
    assert fragment in info.value.message


def test_malformed_sentence_file_names_the_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.txt"
    data.write_text("good stuff\t1\nno label here\n")
    with pytest.raises(RecipeError, match=r"bad\.txt:2: expected 'sentence<TAB>label'"):
        train("text-sentiment", out=tmp_path / "b", params={"data": str(data)})


def test_text_model_predicts_through_both_runtimes(text_bundle: TrainResult) -> None:
    for runtime in ("sklearn", "onnx"):
        p = prediction_core.load(text_bundle.bundle_dir, runtime)
        out = p.predict([{"text": "The food was great and the staff friendly"}, {"text": "Awful, rude, slow."}])
        assert [o["label"] for o in out] == ["1", "0"]


def _schema_file(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"features": [{"name": n, "type": "number", "minimum": -10, "maximum": 10}
                                             for n in names]}))
    return path


def test_bring_your_own_pipeline(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    joblib.dump(LogisticRegression().fit(x, y), tmp_path / "mine.joblib")
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"instances": [dict(zip("abc", map(float, r), strict=True)) for r in x[:50]],
                                "labels": y[:50].tolist()}))
    result = import_pipeline(tmp_path / "mine.joblib", _schema_file(tmp_path, ["a", "b", "c"]),
                             out=tmp_path / "bundle", heldout_path=held)
    assert result.manifest["name"] == "mine"
    assert result.manifest["metrics"]["heldout_rows"] == 50
    assert result.manifest["onnx"]["status"] == "converted"
    p = prediction_core.load(result.bundle_dir, "onnx")
    assert p.predict([{"a": 3.0, "b": 3.0, "c": 0.0}])[0]["label"] == "yes"


def test_unconvertible_step_leaves_a_sklearn_only_bundle_that_says_why(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = np.where(x[:, 0] > 0, "a", "b")
    joblib.dump(make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=5)).fit(x, y),
                tmp_path / "hgb.joblib")
    result = import_pipeline(tmp_path / "hgb.joblib", _schema_file(tmp_path, ["f0", "f1"]), out=tmp_path / "b")
    onnx = result.manifest["onnx"]
    assert onnx["status"] == "not_converted"
    assert "step 'histgradientboostingclassifier' (HistGradientBoostingClassifier)" in onnx["reason"]
    assert set(result.manifest["files"]) == {"model.joblib"}
    assert prediction_core.load(result.bundle_dir, "sklearn").predict([{"f0": 1.0, "f1": 0.0}])[0]["label"] == "a"
    with pytest.raises(RuntimeNotAvailableError, match=r"no model\.onnx for runtime 'onnx'"):
        prediction_core.load(result.bundle_dir, "onnx")


def test_import_refuses_a_non_classifier_and_a_bad_schema(tmp_path: Path) -> None:
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    with pytest.raises(RecipeError, match="neither a fitted classifier"):
        import_pipeline(tmp_path / "dict.joblib", _schema_file(tmp_path, ["a"]), out=tmp_path / "b")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SchemaError, match="cannot read a JSON schema"):
        import_pipeline(tmp_path / "dict.joblib", tmp_path / "bad.json", out=tmp_path / "b")
