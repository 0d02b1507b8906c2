"""Test data builders shared by the suites."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from prediction_core.recipes import get_recipe, resolve_params
from prediction_core.training import TrainResult

POSITIVE = ["great", "loved", "excellent", "wonderful", "fast", "friendly", "tasty", "perfect", "happy", "superb"]
NEGATIVE = ["awful", "hated", "terrible", "slow", "rude", "bland", "broken", "horrible", "sad", "disappointing"]
NEUTRAL = ["the", "food", "service", "movie", "phone", "was", "really", "quite", "and", "staff", "it", "very"]


def write_sentiment_corpus(path: Path, *, rows: int = 300, seed: int = 7) -> Path:
    """A small corpus in the UCI Sentiment Labelled Sentences format (sentence<TAB>label)."""
    rng = random.Random(seed)
    lines = []
    for i in range(rows):
        label = i % 2
        words = rng.sample(NEUTRAL, 4) + rng.sample(POSITIVE if label else NEGATIVE, 2)
        rng.shuffle(words)
        lines.append(" ".join(words).capitalize() + ".\t" + str(label))
    path.write_text("\n".join(lines) + "\n")
    return path


EXPLODING_VALUE = 13.0


def explode_on_13(x: Any) -> Any:
    """A transformer step that fails on one value: drives the 'unexpected exception' path for real."""
    import numpy as np

    arr = np.asarray(x)
    if (arr[:, 0] == EXPLODING_VALUE).any():
        raise RuntimeError("boom: a bug inside the model pipeline")
    return arr


def heldout_instances(result: TrainResult, corpus_file: Path) -> list[dict[str, Any]]:
    """Rebuild the recipe's held-out split (same seed) in the JSON form the doors receive."""
    recipe = get_recipe(result.manifest["recipe"]["name"])
    params = dict(result.manifest["recipe"]["params"])
    if "data" in params:
        params["data"] = str(corpus_file)
    return recipe.dataset(resolve_params(recipe, params), result.manifest["seed"]).test_instances()
