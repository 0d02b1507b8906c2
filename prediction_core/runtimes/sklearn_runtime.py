"""scikit-learn runtime: unpickles model.joblib (only after its SHA-256 was checked)."""

from __future__ import annotations

import importlib
import io
from typing import Any

import joblib
import numpy as np

from prediction_core.exceptions import BundleError


class SklearnModel:
    input_dtype = np.float64

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self._estimator.predict_proba(inputs), dtype=np.float64)


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
    if not hasattr(estimator, "predict_proba"):
        raise BundleError("model.joblib holds an estimator without predict_proba; a classifier is required")
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    if classes != manifest["classes"]:
        raise BundleError(f"model.joblib classes {classes} differ from the manifest's {manifest['classes']}")
    return SklearnModel(estimator)
