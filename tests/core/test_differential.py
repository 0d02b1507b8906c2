"""The two runtimes agree: same labels, probabilities within 1e-5, on every held-out row."""

from __future__ import annotations

from pathlib import Path

import pytest

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
