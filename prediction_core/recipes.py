"""Model recipes: a registry of (data, estimator) pairs that `train` turns into bundles.

This module imports scikit-learn; it is used for training only, never on a serving path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prediction_core.exceptions import RecipeError
from prediction_core.schema import Feature, InputSchema

HELDOUT_FRACTION = 0.25


@dataclass
class Dataset:
    """Training and held-out data in the model's input form, plus what the bundle records about it."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    schema: InputSchema
    sha256: str
    description: str

    def test_instances(self) -> list[dict[str, Any]]:
        """Held-out rows as JSON-like instances, the form every door receives."""
        names = self.schema.names
        if self.schema.kind == "text":
            return [{names[0]: str(t)} for t in self.x_test]
        return [dict(zip(names, map(float, row), strict=True)) for row in self.x_test]


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    defaults: dict[str, Any]
    dataset: Callable[[dict[str, Any], int], Dataset]
    estimator: Callable[[dict[str, Any], int], Any]


def _split(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    return tuple(train_test_split(x, y, test_size=HELDOUT_FRACTION, random_state=seed, stratify=y))


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def tabular_schema(names: list[str], x: np.ndarray) -> InputSchema:
    """Allowed range per feature: the training range widened by its span on each side, and never
    below zero for a feature that is never negative in training (lengths, areas, counts)."""
    features = []
    for j, name in enumerate(names):
        lo, hi = float(x[:, j].min()), float(x[:, j].max())
        span = hi - lo or 1.0
        minimum = 0.0 if lo >= 0 else lo - span
        features.append(Feature(name=name, type="number", minimum=minimum, maximum=round(hi + span, 6)))
    return InputSchema(features=tuple(features), kind="tabular")


def breast_cancer_dataset(params: dict[str, Any], seed: int) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target_names[data.target]).astype(str)
    digest = hashlib.sha256(x.tobytes() + "\n".join(y).encode()).hexdigest()
    x_train, x_test, y_train, y_test = _split(x, y, seed)
    names = [_snake(n) for n in data.feature_names]
    return Dataset(x_train, x_test, y_train, y_test, tabular_schema(names, x_train), digest,
                   "scikit-learn bundled Wisconsin breast-cancer data (569 rows, 30 features)")


def read_sentences(path: Path) -> tuple[list[str], list[str], bytes]:
    """Parse `sentence<TAB>label` lines (UCI Sentiment Labelled Sentences format)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecipeError(f"--data {path}: cannot read ({exc.strerror})") from exc
    texts, labels = [], []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        sentence, sep, label = line.rstrip("\r").rpartition("\t")
        if not sep or not sentence.strip() or not label.strip():
            raise RecipeError(f"{path}:{number}: expected 'sentence<TAB>label', got {line[:60]!r}")
        texts.append(sentence.strip())
        labels.append(label.strip())
    if len(set(labels)) < 2 or len(texts) < 20:
        raise RecipeError(f"{path}: need at least 20 sentences and 2 labels, got {len(texts)} and "
                          f"{len(set(labels))}")
    return texts, labels, raw


def sentiment_dataset(params: dict[str, Any], seed: int) -> Dataset:
    data = params.get("data")
    if not data:
        raise RecipeError("recipe 'text-sentiment' needs --data FILE (tab-separated sentence<TAB>label lines)")
    texts, labels, raw = read_sentences(Path(data))
    x = np.array(texts, dtype=object)
    y = np.array(labels).astype(str)
    x_train, x_test, y_train, y_test = _split(x, y, seed)
    schema = InputSchema(features=(Feature(name="text", type="string", max_length=5_000),), kind="text")
    return Dataset(x_train, x_test, y_train, y_test, schema, hashlib.sha256(raw).hexdigest(),
                   f"{Path(data).name}: {len(texts)} labelled sentences")


def logreg_estimator(params: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=float(params["c"]), max_iter=2_000,
                                                              random_state=seed))


def forest_estimator(params: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    trees = params["trees"]
    if not isinstance(trees, int) or not 1 <= trees <= 5_000:
        raise RecipeError(f"--trees must be an integer from 1 to 5000, got {trees!r}")
    # No scaler in front: trees do not need one, and a float32 scaler output in ONNX can flip
    # comparisons at split thresholds, so sklearn and ONNX would disagree.
    return RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)


def text_estimator(params: dict[str, Any], seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                         LogisticRegression(C=float(params["c"]), max_iter=2_000, random_state=seed))


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("breast-cancer-logreg", "StandardScaler + LogisticRegression on the breast-cancer data (default)",
               {"c": 1.0}, breast_cancer_dataset, logreg_estimator),
        Recipe("breast-cancer-forest", "RandomForest on the breast-cancer data; --trees N for size sweeps",
               {"trees": 100}, breast_cancer_dataset, forest_estimator),
        Recipe("text-sentiment", "TF-IDF + LogisticRegression on sentence<TAB>label data (--data FILE)",
               {"c": 1.0, "data": None}, sentiment_dataset, text_estimator),
    )
}
DEFAULT_RECIPE = "breast-cancer-logreg"


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise RecipeError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}") from None


def resolve_params(recipe: Recipe, overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - set(recipe.defaults)
    if unknown:
        raise RecipeError(f"recipe {recipe.name!r} takes {sorted(recipe.defaults)}, not {sorted(unknown)}")
    return {**recipe.defaults, **{k: v for k, v in overrides.items() if v is not None}}
