"""Validated table rows (Python tuples in schema order, None where an optional field is missing)
turned into what a model was fitted on: a pandas DataFrame with the fitted column names and dtypes,
a numeric or object array, or one ONNX input per column.

pandas is imported only for a pipeline fitted on a DataFrame, by the scikit-learn runtime; the ONNX
and lean runtimes never import it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from prediction_core.schema import Feature, InputSchema

InputFormat = str  # "array" (fitted on a numpy array) or "dataframe" (fitted on a DataFrame)
INPUT_FORMATS = ("array", "dataframe")


def _column(feature: Feature, values: list[Any]) -> Any:
    """One column with the dtype the pipeline saw at fit time; missing values as NaN (numbers) or
    None (categories), which scikit-learn's imputers and encoders treat as missing."""
    missing = any(v is None for v in values)
    if feature.type == "number" or (feature.type == "integer" and missing):
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if feature.type == "integer":
        return np.array(values, dtype=np.int64)
    if feature.type == "boolean" and not missing:
        return np.array(values, dtype=bool)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def dataframe(rows: Sequence[tuple[Any, ...]], schema: InputSchema) -> Any:
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.features]
    return pd.DataFrame({f.name: _column(f, list(col)) for f, col in zip(schema.features, columns, strict=True)})


def array(rows: Sequence[tuple[Any, ...]], schema: InputSchema) -> np.ndarray:
    """Rows for a pipeline fitted on a plain array: float64 when every value is a number (missing
    ones NaN), else an object array."""
    if all(f.numeric for f in schema.features):
        return np.array([[math.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    out = np.empty((len(rows), len(schema.features)), dtype=object)
    out[:] = [list(row) for row in rows]
    return out


def model_input(rows: Any, schema: InputSchema, input_format: InputFormat) -> Any:
    """What the fitted scikit-learn pipeline takes for these validated rows."""
    if schema.kind == "text":
        return rows
    if input_format == "dataframe":
        return dataframe(rows, schema)
    return rows if isinstance(rows, np.ndarray) else array(rows, schema)
