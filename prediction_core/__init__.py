"""twinserve prediction core: one model, one schema, one error shape for every door.

Imports no web framework and no AWS library. Importing this package pulls in numpy only;
a runtime's library (scikit-learn or onnxruntime) is imported when `load` asks for it.
"""

from __future__ import annotations

from prediction_core.exceptions import (
    BundleError,
    BundleIntegrityError,
    InvalidInstancesError,
    RecipeError,
    RuntimeNotAvailableError,
    SchemaError,
    TwinserveError,
)
from prediction_core.predictor import Predictor, available_runtimes, load
from prediction_core.schema import MAX_INSTANCES, Feature, InputSchema
from prediction_core.timing import ColdStartTimings

__all__ = [
    "MAX_INSTANCES",
    "BundleError",
    "BundleIntegrityError",
    "ColdStartTimings",
    "Feature",
    "InputSchema",
    "InvalidInstancesError",
    "Predictor",
    "RecipeError",
    "RuntimeNotAvailableError",
    "SchemaError",
    "TwinserveError",
    "available_runtimes",
    "load",
]
