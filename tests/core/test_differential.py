"""The runtimes agree: ONNX with scikit-learn within 1e-5 (float32), the lean runtime within 1e-9, on every
held-out row (and for the lean runtime on random rows within the schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prediction_core
from prediction_core.training import TrainResult
from tests.helpers import heldout_instances


@pytest.mark.parametrize("recipe", ["breast-cancer-logreg", "breast-cancer-forest", "text-sentiment"])
def test_sklearn_and_onnx_agree_on_the_heldout_set(recipe: str, bundles: dict[str, TrainResult],
                                                   corpus_file: Path) -> None:
    result = bundles[recipe]
    instances = heldout_instances(result, corpus_file)
    sk = prediction_core.load(result.bundle_dir, "sklearn").predict(instances)
    ox = prediction_core.load(result.bundle_dir, "onnx").predict(instances)
    assert len(sk) == len(ox) == result.manifest["metrics"]["heldout_rows"]
    assert [p["label"] for p in sk] == [p["label"] for p in ox]
    worst = max(abs(a["probabilities"][c] - b["probabilities"][c])
                for a, b in zip(sk, ox, strict=True) for c in a["probabilities"])
    assert worst <= 1e-5



@pytest.mark.parametrize("recipe", ["breast-cancer-logreg", "breast-cancer-forest"])
def test_single_rows_through_the_bound_buffers_answer_exactly_as_an_ordinary_run(
        recipe: str, bundles: dict[str, TrainResult], corpus_file: Path) -> None:
    # One-row requests go through buffers bound to the ONNX session once. While those buffers are
    # busy (another thread) a request takes the ordinary run instead: both must give the same bits.
    result = bundles[recipe]
    instances = heldout_instances(result, corpus_file)
    predictor = prediction_core.load(result.bundle_dir, "onnx")
    bound = predictor._model._single_row  # type: ignore[attr-defined]
    assert bound is not None
    through_bound = [predictor.predict([instance])[0] for instance in instances]
    with bound._busy:
        assert bound.run(predictor.schema.validate(instances[:1], dtype=predictor._model.input_dtype)) is None
        through_ordinary_run = [predictor.predict([instance])[0] for instance in instances]
    assert through_bound == through_ordinary_run
    # A batch runs other kernels in onnxruntime (one row versus many): same labels, float32 rounding apart.
    batch = predictor.predict(instances)
    assert [p["label"] for p in batch] == [p["label"] for p in through_bound]
    assert max(abs(a["probabilities"][c] - b["probabilities"][c])
               for a, b in zip(batch, through_bound, strict=True) for c in a["probabilities"]) <= 1e-6


@pytest.mark.parametrize("recipe", ["breast-cancer-logreg", "breast-cancer-forest", "text-sentiment"])
def test_the_lean_runtime_agrees_with_scikit_learn_to_1e9_on_every_heldout_row(
        recipe: str, bundles: dict[str, TrainResult], corpus_file: Path) -> None:
    result = bundles[recipe]
    assert result.manifest["lean"]["status"] == "converted"
    assert result.manifest["lean"]["max_abs_diff_vs_sklearn"] <= 1e-9
    instances = heldout_instances(result, corpus_file)
    sk = prediction_core.load(result.bundle_dir, "sklearn").predict(instances)
    lean = prediction_core.load(result.bundle_dir, "lean")
    for answers in (lean.predict(instances), [lean.predict([inst])[0] for inst in instances]):
        assert [p["label"] for p in answers] == [p["label"] for p in sk]
        assert max(abs(a["probabilities"][c] - b["probabilities"][c])
                   for a, b in zip(sk, answers, strict=True) for c in a["probabilities"]) <= 1e-9


def _rows_within(schema: prediction_core.InputSchema) -> st.SearchStrategy[dict[str, Any]]:
    fields = {}
    for f in schema.features:
        if f.type == "integer":
            fields[f.name] = st.integers(int(f.minimum), int(f.maximum))
        else:
            fields[f.name] = st.floats(f.minimum, f.maximum, allow_nan=False)
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize("recipe", ["breast-cancer-logreg", "breast-cancer-forest"])
def test_the_lean_runtime_agrees_with_scikit_learn_on_random_rows_within_the_schema(
        recipe: str, bundles: dict[str, TrainResult]) -> None:
    result = bundles[recipe]
    sk = prediction_core.load(result.bundle_dir, "sklearn")
    lean = prediction_core.load(result.bundle_dir, "lean")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(_rows_within(sk.schema), min_size=1, max_size=5))
    def agree(instances: list[dict[str, Any]]) -> None:
        want, got = sk.predict(instances), lean.predict(instances)
        assert [p["label"] for p in got] == [p["label"] for p in want]
        assert max(abs(a["probabilities"][c] - b["probabilities"][c])
                   for a, b in zip(want, got, strict=True) for c in a["probabilities"]) <= 1e-9

    agree()


def test_a_pipeline_the_lean_runtime_cannot_evaluate_is_bundled_without_it_and_the_manifest_says_why(
        tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from prediction_core import lean_export
    from prediction_core.exceptions import RuntimeNotAvailableError
    from prediction_core.recipes import tabular_schema
    from prediction_core.training import _assemble, check_set

    x, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=5)).fit(x, y.astype(str))
    schema = tabular_schema(["a", "b", "c", "d"], x)
    check = check_set(model, schema, [dict(zip("abcd", map(float, row), strict=True)) for row in x[:20]],
                      input_format="array", regression=False, where="rows")
    result = lean_export.convert(model, schema, check.rows, check.want)
    assert result.status == "not_converted" and result.data is None
    assert "'histgradientboostingclassifier' (HistGradientBoostingClassifier)" in result.reason
    bundle = _assemble(tmp_path / "b", estimator=model, schema=schema, check=check, name="hgb",
                       version="1", extra={})
    assert "model.lean.json" not in bundle.manifest["files"]
    with pytest.raises(RuntimeNotAvailableError, match=r"no model\.lean\.json for runtime 'lean'.*HistGradient"):
        prediction_core.load(bundle.bundle_dir, "lean")


def test_the_lean_path_imports_no_numpy_and_no_model_library(bundles: dict[str, TrainResult]) -> None:
    import subprocess
    import sys

    script = ("import sys, prediction_core; p = prediction_core.load(sys.argv[1], 'lean'); "
              "p.predict([p.schema.example_instance()] * 3); p.predict([p.schema.example_instance()]); "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'sklearn', 'onnxruntime', 'scipy'}))")
    out = subprocess.run([sys.executable, "-c", script, str(bundles["breast-cancer-forest"].bundle_dir)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
