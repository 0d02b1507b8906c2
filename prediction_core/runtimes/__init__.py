"""Runtime registry. Each runtime lives in its own module, imported only when it is asked for,
so loading the ONNX runtime never pays for (or even imports) scikit-learn, and the lean runtime
imports neither numpy nor any model library."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from prediction_core.exceptions import RuntimeNotAvailableError


class Model(Protocol):
    """A loaded model: class probabilities (float32 or float64) for a validated input array,
    columns in manifest order. `input_dtype` is the float type it consumes for tabular input, or
    None for a model that takes plain Python input (see InputSchema.validate) and returns a list
    of probability lists.
    A runtime may also offer `predict_row(values) -> list[float] | None` for one validated tabular
    row (None: use `predict_proba`); the predictor takes it for single-instance requests."""

    input_dtype: Any

    def predict_proba(self, inputs: Any) -> Any: ...


class RuntimeModule(Protocol):
    def preload(self, manifest: dict[str, Any]) -> None: ...

    def load_model(self, data: bytes, manifest: dict[str, Any], *, threads: int) -> Model: ...


# name -> module path; adding a runtime is adding an entry and a module with load_model().
RUNTIMES: dict[str, str] = {
    "sklearn": "prediction_core.runtimes.sklearn_runtime",
    "onnx": "prediction_core.runtimes.onnx_runtime",
    "lean": "prediction_core.runtimes.lean_runtime",
}


def import_runtime(name: str) -> RuntimeModule:
    if name not in RUNTIMES:
        raise RuntimeNotAvailableError(f"unknown runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    module: RuntimeModule = importlib.import_module(RUNTIMES[name])
    return module
