"""Load a bundle for one runtime and predict: validate, one vectorised call, shape the output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prediction_core.bundle import RUNTIME_FILES, manifest_schema, manifest_task, read_manifest, verify_file
from prediction_core.exceptions import RuntimeNotAvailableError
from prediction_core.runtimes import RUNTIMES, Model, import_runtime
from prediction_core.schema import InputSchema
from prediction_core.timing import ColdStartTimings, stopwatch_ms


class Predictor:
    """A verified, loaded model. `predict` takes JSON-like instances and returns, per instance,
    {"label", "probabilities"} for a classifier or {"value"} for a regressor."""

    def __init__(self, *, manifest: dict[str, Any], runtime: str, model: Model,
                 timings: ColdStartTimings) -> None:
        self.manifest = manifest
        self.runtime = runtime
        self.name: str = manifest["name"]
        self.version: str = manifest["version"]
        self.task = manifest_task(manifest)
        self.classes: list[str] = list(manifest["classes"])
        self.schema: InputSchema = manifest_schema(manifest)
        self.timings = timings
        self._model = model
        self._model_info = {"name": self.name, "version": self.version, "runtime": runtime}
        if self.task == "regression":
            self._shape_row = self._shape_value  # type: ignore[method-assign]
        # A runtime may answer one validated row without an input array (ONNX does): the common
        # serving request, one instance, then costs no numpy allocation at all.
        self._predict_row: Callable[[tuple[int | float, ...]], list[float] | None] | None = getattr(
            model, "predict_row", None)

    @property
    def model_info(self) -> dict[str, str]:
        """{"name", "version", "runtime"}: built once, shared by every response (treat as read-only)."""
        return self._model_info

    def predict(self, instances: Any) -> list[dict[str, Any]]:
        """Validate instances (errors name index and field) and predict them in one batch."""
        if (self._predict_row is not None and type(instances) is list and len(instances) == 1
                and self.timings.first_predict_ms is not None):
            row = self.schema.valid_row(instances[0])
            probabilities = self._predict_row(row) if row is not None else None
            if probabilities is not None:
                return [self._shape_row(probabilities)]
        inputs = self.schema.validate(instances, dtype=self._model.input_dtype)
        if self.timings.first_predict_ms is None:
            with stopwatch_ms() as elapsed:
                proba = self._model.predict_proba(inputs)
            self.timings.first_predict_ms = elapsed[0]
        else:
            proba = self._model.predict_proba(inputs)
        return self._shape(proba)

    def warmup(self) -> None:
        """Run one prediction on a schema example so the first real request is not the slow one."""
        self.predict([self.schema.example_instance()])

    def _shape(self, proba: Any) -> list[dict[str, Any]]:
        # The label is the most probable class (the first on a tie, as numpy's argmax) in every
        # runtime, so they cannot disagree. Plain Python: for a few rows numpy's overhead dominates,
        # and for many rows building the dicts dominates anyway. `proba` is an array, or already a
        # list of lists (the lean runtime).
        return [self._shape_row(row) for row in (proba if isinstance(proba, list) else proba.tolist())]

    def _shape_row(self, row: list[float]) -> dict[str, Any]:
        classes = self.classes
        return {"label": classes[row.index(max(row))], "probabilities": dict(zip(classes, row, strict=True))}

    @staticmethod
    def _shape_value(row: list[float]) -> dict[str, Any]:
        return {"value": row[0]}


def available_runtimes(manifest: dict[str, Any]) -> list[str]:
    return [name for name, file in RUNTIME_FILES.items() if file in manifest["files"]]


def load(bundle: Path | str, runtime: str = "sklearn", *, threads: int = 1, warmup: bool = False) -> Predictor:
    """Verify and load a bundle for one runtime; timings record what the cold path cost here."""
    if runtime not in RUNTIMES:
        raise RuntimeNotAvailableError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    bundle_dir = Path(bundle)
    timings = ColdStartTimings()
    with stopwatch_ms() as verify:
        manifest = read_manifest(bundle_dir)
        if RUNTIME_FILES[runtime] not in manifest["files"]:
            note = manifest.get(runtime, {}).get("reason", "")
            raise RuntimeNotAvailableError(
                f"bundle {manifest['name']!r} has no {RUNTIME_FILES[runtime]} for runtime {runtime!r}"
                f"{': ' + note if note else ''}; available: {', '.join(available_runtimes(manifest))}")
        data = verify_file(bundle_dir, manifest, RUNTIME_FILES[runtime])
    timings.verify_ms = verify[0]
    with stopwatch_ms() as imported:
        module = import_runtime(runtime)
        module.preload(manifest)
    timings.runtime_import_ms = imported[0]
    with stopwatch_ms() as loaded:
        model = module.load_model(data, manifest, threads=threads)
    timings.model_load_ms = loaded[0]
    predictor = Predictor(manifest=manifest, runtime=runtime, model=model, timings=timings)
    if warmup:
        predictor.warmup()
    return predictor
