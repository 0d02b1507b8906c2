"""Write a fitted scikit-learn pipeline as model.lean.json for the lean runtime, and check it agrees.

Used at training and import time only. Each supported step has a writer in `WRITERS` (keyed by the
exact class: a subclass may compute differently); a pipeline with any other step, or whose lean
evaluation disagrees with scikit-learn on the check rows, leaves the bundle without the lean
runtime, and the manifest says which step or by how much.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from prediction_core.export_check import ExportResult, agreement
from prediction_core.runtimes import lean_runtime
from prediction_core.schema import InputSchema

# Largest |p_lean - p_sklearn| accepted. Both compute in float64 in the same order of operations;
# only summation order (BLAS against Python) and libm differ, about 1e-16.
AGREEMENT_TOLERANCE = 1e-9
TREE_LEAF = -1


class Unsupported(Exception):
    """A pipeline step the lean runtime cannot evaluate (the message says why)."""




def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _standard(step: Any) -> dict[str, Any]:
    return {"op": "subtract_divide", "subtract": _floats(step.mean_) if step.with_mean else None,
            "divide": _floats(step.scale_) if step.with_std else None}


def _robust(step: Any) -> dict[str, Any]:
    return {"op": "subtract_divide", "subtract": _floats(step.center_) if step.with_centering else None,
            "divide": _floats(step.scale_) if step.with_scaling else None}


def _max_abs(step: Any) -> dict[str, Any]:
    return {"op": "subtract_divide", "subtract": None, "divide": _floats(step.scale_)}


def _min_max(step: Any) -> dict[str, Any]:
    return {"op": "multiply_add", "multiply": _floats(step.scale_), "add": _floats(step.min_),
            "clip": [float(v) for v in step.feature_range] if step.clip else None}


def _tfidf(step: Any) -> dict[str, Any]:
    checks = {"analyzer": (step.analyzer, "word"), "tokenizer": (step.tokenizer, None),
              "preprocessor": (step.preprocessor, None), "input": (step.input, "content")}
    for name, (value, wanted) in checks.items():
        if value != wanted:
            raise Unsupported(f"TfidfVectorizer with {name}={value!r} (only {wanted!r})")
    if step.strip_accents not in (None, "ascii", "unicode"):
        raise Unsupported("TfidfVectorizer with a callable strip_accents")
    if np.dtype(step.dtype) != np.float64:
        raise Unsupported(f"TfidfVectorizer with dtype {np.dtype(step.dtype)} (only float64)")
    stop_words = step.get_stop_words()
    return {"op": "tfidf", "lowercase": bool(step.lowercase), "strip_accents": step.strip_accents,
            "token_pattern": step.token_pattern, "ngram_range": [int(n) for n in step.ngram_range],
            "stop_words": sorted(stop_words) if stop_words is not None else None,
            "vocabulary": {str(term): int(index) for term, index in step.vocabulary_.items()},
            "idf": _floats(step.idf_) if step.use_idf else None, "sublinear_tf": bool(step.sublinear_tf),
            "binary": bool(step.binary), "norm": step.norm}


def _logistic(step: Any) -> dict[str, Any]:
    coef = np.asarray(step.coef_, dtype=np.float64)
    return {"op": "logistic", "coef": [_floats(row) for row in coef], "intercept": _floats(step.intercept_)}


def _linear(step: Any) -> dict[str, Any]:
    coef = np.asarray(step.coef_, dtype=np.float64)
    if coef.ndim != 1:
        raise Unsupported("a multi-output linear model")
    return {"op": "linear", "coef": _floats(coef), "intercept": float(np.asarray(step.intercept_).ravel()[0])}


def _tree(tree: Any) -> dict[str, Any]:
    if tree.n_outputs != 1:
        raise Unsupported("a multi-output tree")
    left = [int(v) for v in tree.children_left]
    # Only leaves' class fractions are read; internal nodes keep null to stay small.
    value = [_floats(tree.value[i, 0]) if left[i] == TREE_LEAF else None for i in range(tree.node_count)]
    return {"left": left, "right": [int(v) for v in tree.children_right],
            "feature": [max(int(v), 0) for v in tree.feature], "threshold": _floats(tree.threshold),
            "value": value}


def _single_tree(step: Any) -> dict[str, Any]:
    return {"op": "forest", "trees": [_tree(step.tree_)]}


def _forest(step: Any) -> dict[str, Any]:
    return {"op": "forest", "trees": [_tree(e.tree_) for e in step.estimators_]}


def _writers() -> dict[type, Callable[[Any], dict[str, Any]]]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import (
        ElasticNet,
        Lasso,
        LinearRegression,
        LogisticRegression,
        LogisticRegressionCV,
        Ridge,
        RidgeCV,
    )
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

    return {StandardScaler: _standard, RobustScaler: _robust, MaxAbsScaler: _max_abs, MinMaxScaler: _min_max,
            TfidfVectorizer: _tfidf, LogisticRegression: _logistic, LogisticRegressionCV: _logistic,
            DecisionTreeClassifier: _single_tree, ExtraTreeClassifier: _single_tree,
            RandomForestClassifier: _forest, ExtraTreesClassifier: _forest,
            LinearRegression: _linear, Ridge: _linear, RidgeCV: _linear, Lasso: _linear, ElasticNet: _linear,
            DecisionTreeRegressor: _single_tree, ExtraTreeRegressor: _single_tree,
            RandomForestRegressor: _forest, ExtraTreesRegressor: _forest}


FINAL_OPS = frozenset({"logistic", "forest", "linear"})


def document(estimator: Any, schema: InputSchema | None = None) -> dict[str, Any]:
    """The model.lean.json content for a fitted pipeline, or Unsupported naming the first step it
    cannot evaluate. Text steps must come first and trees need dense input; a table must be numbers."""
    if schema is not None and schema.kind == "tabular" and not schema.numeric_only:
        odd = next(f for f in schema.features if not f.numeric or f.optional)
        raise Unsupported(f"the lean runtime takes required numeric features only (feature {odd.name!r} is "
                          f"{'optional' if odd.optional else odd.type})")
    writers = _writers()
    steps = [(name, step) for name, step in getattr(estimator, "steps", [("model", estimator)])
             if step is not None and step != "passthrough"]
    out: list[dict[str, Any]] = []
    for position, (name, step) in enumerate(steps):
        writer = writers.get(type(step))
        if writer is None:
            raise Unsupported(f"step {name!r} ({type(step).__name__}) is not one the lean runtime evaluates")
        try:
            spec = writer(step)
        except Unsupported as exc:
            raise Unsupported(f"step {name!r}: {exc}") from exc
        if spec["op"] == "tfidf" and position != 0:
            raise Unsupported(f"step {name!r} (TfidfVectorizer) is not the first step")
        if spec["op"] == "forest" and out and out[0]["op"] == "tfidf":
            raise Unsupported(f"step {name!r} ({type(step).__name__}) after a text step (sparse input)")
        final = position == len(steps) - 1
        if final != (spec["op"] in FINAL_OPS):
            raise Unsupported(f"step {name!r} ({type(step).__name__}) "
                              + ("must be followed by a model" if final else "is a model before the end"))
        out.append(spec)
    classes = len(getattr(estimator, "classes_", []))
    return {"format": lean_runtime.LEAN_FORMAT, "classes": classes, "steps": out}


def convert(estimator: Any, schema: InputSchema, rows: Any, want: np.ndarray, *,
            regression: bool = False) -> ExportResult:
    """model.lean.json for the estimator, checked against scikit-learn's output `want` on the
    validated check `rows` (held-out rows, or rows drawn within the schema)."""
    try:
        data = orjson.dumps(document(estimator, schema))
    except Unsupported as exc:
        return ExportResult(None, "not_converted", str(exc))
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    model = lean_runtime.load_model(data, {"classes": classes}, threads=1)
    return agreement(data, np.asarray(model.predict_proba(rows)), want, tolerance=AGREEMENT_TOLERANCE,
                     regression=regression, what="evaluated")
