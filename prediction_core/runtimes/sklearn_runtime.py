"""scikit-learn runtime: unpickles model.joblib (only after its SHA-256 was checked)."""

from __future__ import annotations

import importlib
import io
from typing import Any

import joblib
import numpy as np

from prediction_core import tables
from prediction_core.bundle import manifest_input_format, manifest_schema, manifest_task
from prediction_core.exceptions import BundleError


class SklearnModel:
    """A classifier's probabilities or a regressor's values (one column), from the fitted pipeline
    called with what it was fitted on: a float array, or a DataFrame with the fitted columns."""

    def __init__(self, estimator: Any, manifest: dict[str, Any]) -> None:
        self._estimator = estimator
        self._schema = manifest_schema(manifest)
        self._format = manifest_input_format(manifest)
        self._regression = manifest_task(manifest) == "regression"
        plain = self._schema.kind == "text" or (self._schema.numeric_only and self._format == "array")
        self.input_dtype = np.float64 if plain else None  # None: validated Python rows, converted here

    def predict_proba(self, inputs: Any) -> np.ndarray:
        x = tables.model_input(inputs, self._schema, self._format)
        if self._regression:
            return np.asarray(self._estimator.predict(x), dtype=np.float64).reshape(len(inputs), -1)
        return np.asarray(self._estimator.predict_proba(x), dtype=np.float64)


def preload(manifest: dict[str, Any]) -> None:
    """Import the modules the pickle names (recorded at training), so that import time is
    counted as import time and unpickling measures only the model load."""
    for module in manifest.get("pickle_modules", []):
        try:
            importlib.import_module(module)
        except ImportError:
            continue  # best effort: unpickling raises the real error with its context


def load_model(data: bytes, manifest: dict[str, Any], *, threads: int) -> SklearnModel:
    del threads  # scikit-learn's predict for these models is single-threaded
    estimator = joblib.load(io.BytesIO(data))
    if manifest_task(manifest) == "regression":
        if not hasattr(estimator, "predict") or hasattr(estimator, "classes_"):
            raise BundleError("model.joblib does not hold a regressor, as the manifest's task says")
        return SklearnModel(estimator, manifest)
    if not hasattr(estimator, "predict_proba"):
        raise BundleError("model.joblib holds an estimator without predict_proba; a classifier is required")
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    if classes != manifest["classes"]:
        raise BundleError(f"model.joblib classes {classes} differ from the manifest's {manifest['classes']}")
    return SklearnModel(estimator, manifest)
