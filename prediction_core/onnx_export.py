"""Convert a fitted scikit-learn pipeline to ONNX and check that both runtimes agree.

Used at training time only. A model that does not convert, or converts but disagrees with
scikit-learn, leaves the bundle sklearn-only with a note saying why.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from prediction_core.export_check import ExportResult, agreement
from prediction_core.schema import InputSchema

# Largest |p_onnx - p_sklearn| accepted; ONNX computes in float32, so about 1e-6 is normal.
AGREEMENT_TOLERANCE = 1e-5




def _failing_step(estimator: Any, initial: list[Any], error: Exception) -> str:
    """Name the pipeline step skl2onnx cannot handle by converting growing prefixes of the pipeline."""
    from skl2onnx import convert_sklearn
    from sklearn.pipeline import Pipeline

    steps = getattr(estimator, "steps", None)
    if steps:
        for k, (name, step) in enumerate(steps):
            prefix = Pipeline(steps[: k + 1])
            options = {id(step): {"zipmap": False}} if hasattr(step, "predict_proba") else None
            try:
                convert_sklearn(prefix, initial_types=initial, options=options)
            except Exception:
                return f"step {name!r} ({type(step).__name__})"
    match = re.search(r"<class '([\w.]+)'>", str(error))
    return f"class {match.group(1)}" if match else type(estimator).__name__


def _set_text_locale(model: Any) -> None:
    # skl2onnx leaves StringNormalizer's locale unset, and onnxruntime then asks for en_US.UTF-8,
    # which slim images (and Lambda's) may lack. C.UTF-8 ships with glibc everywhere we run.
    from onnx import helper

    for node in model.graph.node:
        if node.op_type == "StringNormalizer" and not any(a.name == "locale" for a in node.attribute):
            node.attribute.append(helper.make_attribute("locale", "C.UTF-8"))


def _initial_types(schema: InputSchema, *, per_column: bool) -> list[tuple[str, Any]]:
    """One float input for a numeric table (or one string input for text); with `per_column`, one
    input per feature named as the column, as skl2onnx maps a ColumnTransformer's columns by name."""
    from skl2onnx.common.data_types import BooleanTensorType, FloatTensorType, Int64TensorType, StringTensorType

    if schema.kind == "text":
        return [("input", StringTensorType([None, 1]))]
    if not per_column:
        return [("input", FloatTensorType([None, len(schema.features)]))]
    kinds = {"number": FloatTensorType, "integer": Int64TensorType, "boolean": BooleanTensorType,
             "string": StringTensorType}
    return [(f.name, (FloatTensorType if f.optional and f.numeric else kinds[f.type])([None, 1]))
            for f in schema.features]


def convert(estimator: Any, schema: InputSchema, rows: Any, want: np.ndarray, *, graph_name: str,
            regression: bool = False) -> ExportResult:
    """model.onnx for the estimator, checked against scikit-learn's output `want` on the validated
    check `rows` (Python rows: tuples in schema order, or texts)."""
    try:
        from skl2onnx import convert_sklearn
    except ImportError as exc:  # pragma: no cover - skl2onnx is a training dependency
        return ExportResult(None, "not_converted", f"skl2onnx is not installed ({exc})")

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    options = None if regression else {id(final): {"zipmap": False}}
    attempts = [False, True] if schema.numeric_only else [True] if schema.kind == "tabular" else [False]
    failures: list[tuple[list[tuple[str, Any]], Exception]] = []
    for per_column in attempts:
        initial = _initial_types(schema, per_column=per_column)
        try:
            model = convert_sklearn(estimator, initial_types=initial, options=options)
            break
        except Exception as exc:  # skl2onnx raises many types; all mean "this model does not convert"
            failures.append((initial, exc))
    else:
        initial, failure = failures[0]  # the first way tried is the one that fits the schema best
        return ExportResult(None, "not_converted",
                          f"skl2onnx could not convert {_failing_step(estimator, initial, failure)}: "
                          f"{str(failure).splitlines()[0][:200]}")
    model.graph.name = graph_name  # skl2onnx uses a random name; a fixed one keeps hashes reproducible
    _set_text_locale(model)
    data = model.SerializeToString()
    return _check_agreement(data, schema, rows, want, regression=regression)


def _check_agreement(data: bytes, schema: InputSchema, rows: Any, want: np.ndarray, *,
                     regression: bool) -> ExportResult:
    from prediction_core.runtimes import onnx_runtime

    try:
        onnx_model = onnx_runtime.load_model(
            data, {"input_schema": schema.to_dict(), "task": "regression" if regression else "classification"},
            threads=1)
        if onnx_model.input_dtype is None:
            feed: Any = rows
        elif schema.kind == "text":
            feed = np.empty(len(rows), dtype=object)
            feed[:] = rows
        else:
            feed = np.array(rows, dtype=np.float64)
        got = np.asarray(onnx_model.predict_proba(feed), dtype=np.float64).reshape(want.shape)
    except Exception as exc:
        return ExportResult(None, "not_converted", f"onnxruntime could not run the converted model: "
                                                 f"{str(exc).splitlines()[0][:200]}")
    return agreement(data, got, want, tolerance=AGREEMENT_TOLERANCE, regression=regression, what="converted")
