"""The two runtimes agree: same labels, probabilities within 1e-5, on every held-out row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prediction_core
from prediction_core.recipes import get_recipe, resolve_params
from prediction_core.training import TrainResult


def heldout_instances(result: TrainResult, corpus_file: Path) -> list[dict[str, Any]]:
    """Rebuild the recipe's held-out split (same seed) in the JSON form the doors receive."""
    recipe = get_recipe(result.manifest["recipe"]["name"])
    params = dict(result.manifest["recipe"]["params"])
    if "data" in params:
        params["data"] = str(corpus_file)
    return recipe.dataset(resolve_params(recipe, params), result.manifest["seed"]).test_instances()


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
