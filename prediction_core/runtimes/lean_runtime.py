"""Lean runtime: evaluates model.lean.json in pure Python (no numpy, no onnxruntime, no scikit-learn).

A cold start then costs little more than a hello-world handler. The file holds each pipeline step's
fitted numbers (written by `prediction_core.lean_export` at training or import, and checked there
against scikit-learn on held-out rows); this module only does the arithmetic, in the order
scikit-learn does it, so the answers agree to about 1e-15. Which steps exist is a registry (`STEPS`):
adding a family is adding an entry here and a writer in `lean_export`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from prediction_core.exceptions import BundleError

LEAN_FORMAT = "twinserve-lean/1"
# A dense row (list of floats) or a sparse one (column index -> value, from the text step).
Vector = list[float] | dict[int, float]
Step = Callable[[Any], Any]


def _subtract_divide(spec: dict[str, Any]) -> Step:
    """StandardScaler, RobustScaler, MaxAbsScaler: X -= subtract; X /= divide (either may be absent)."""
    subtract, divide = spec.get("subtract"), spec.get("divide")
    if subtract is not None and divide is not None:
        return lambda x: [(v - m) / s for v, m, s in zip(x, subtract, divide, strict=True)]
    if subtract is not None:
        return lambda x: [v - m for v, m in zip(x, subtract, strict=True)]
    if divide is not None:
        return lambda x: [v / s for v, s in zip(x, divide, strict=True)]
    return lambda x: [float(v) for v in x]


def _multiply_add(spec: dict[str, Any]) -> Step:
    """MinMaxScaler: X *= multiply; X += add; then clipped to the feature range when asked."""
    multiply, add, clip = spec["multiply"], spec["add"], spec.get("clip")

    def step(x: Sequence[float]) -> list[float]:
        out = [v * a + b for v, a, b in zip(x, multiply, add, strict=True)]
        if clip is not None:
            low, high = clip
            out = [min(max(v, low), high) for v in out]
        return out

    return step


def _strip_accents(kind: str | None) -> Callable[[str], str] | None:
    if kind == "unicode":  # scikit-learn's strip_accents_unicode
        def unicode(text: str) -> str:
            try:
                text.encode("ASCII", errors="strict")
                return text
            except UnicodeEncodeError:
                normalized = unicodedata.normalize("NFKD", text)
                return "".join(c for c in normalized if not unicodedata.combining(c))
        return unicode
    if kind == "ascii":  # scikit-learn's strip_accents_ascii
        return lambda text: unicodedata.normalize("NFKD", text).encode("ASCII", "ignore").decode("ASCII")
    return None


def _tfidf(spec: dict[str, Any]) -> Step:
    """TfidfVectorizer (word analyzer): preprocess, tokenize, n-grams, counts, tf, idf, norm; sparse out."""
    lowercase: bool = spec["lowercase"]
    accents = _strip_accents(spec.get("strip_accents"))
    tokens_of = re.compile(spec["token_pattern"]).findall
    min_n, max_n = spec["ngram_range"]
    stop_words = frozenset(spec["stop_words"]) if spec.get("stop_words") is not None else None
    vocabulary: dict[str, int] = spec["vocabulary"]
    idf: list[float] | None = spec.get("idf")
    sublinear, binary, norm = spec["sublinear_tf"], spec["binary"], spec.get("norm")

    def ngrams(tokens: list[str]) -> list[str]:  # CountVectorizer._word_ngrams
        if stop_words is not None:
            tokens = [w for w in tokens if w not in stop_words]
        if max_n == 1:
            return tokens
        low = min_n
        out = list(tokens) if low == 1 else []
        low = max(low, 2)
        for n in range(low, min(max_n + 1, len(tokens) + 1)):
            out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return out

    def step(text: str) -> dict[int, float]:
        if lowercase:
            text = text.lower()
        if accents is not None:
            text = accents(text)
        counts: dict[int, int] = {}
        for term in ngrams(tokens_of(text)):
            index = vocabulary.get(term)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        row: dict[int, float] = {}
        for index in sorted(counts):  # CSR order: column indices sorted
            tf = 1.0 if binary else float(counts[index])
            if sublinear:
                tf = math.log(tf) + 1.0
            row[index] = tf * idf[index] if idf is not None else tf
        if norm is not None and row:
            total = (math.sqrt(sum(v * v for v in row.values())) if norm == "l2"
                     else sum(abs(v) for v in row.values()))
            if total != 0.0:
                row = {j: v / total for j, v in row.items()}
        return row

    return step


def _dot(coef: list[float], x: Vector) -> float:
    if isinstance(x, dict):
        return sum(coef[j] * v for j, v in x.items())
    return sum(c * v for c, v in zip(coef, x, strict=True))


def _logistic(spec: dict[str, Any]) -> Step:
    """LogisticRegression.predict_proba: expit for two classes, softmax for more."""
    coef: list[list[float]] = spec["coef"]
    intercept: list[float] = spec["intercept"]

    if len(coef) == 1:
        def binary(x: Vector) -> list[float]:
            decision = _dot(coef[0], x) + intercept[0]
            if decision >= 0:
                p = 1.0 / (1.0 + math.exp(-decision))
            else:  # the same value without overflowing exp for very negative decisions
                e = math.exp(decision)
                p = e / (1.0 + e)
            return [1.0 - p, p]
        return binary

    def softmax(x: Vector) -> list[float]:
        decisions = [_dot(c, x) + b for c, b in zip(coef, intercept, strict=True)]
        top = max(decisions)
        exps = [math.exp(d - top) for d in decisions]
        total = sum(exps)
        return [e / total for e in exps]

    return softmax


def _linear(spec: dict[str, Any]) -> Step:
    """LinearRegression, Ridge, Lasso, ElasticNet: X @ coef + intercept, one value."""
    coef: list[float] = spec["coef"]
    intercept: float = spec["intercept"]
    return lambda x: [_dot(coef, x) + intercept]


def _forest(spec: dict[str, Any]) -> Step:
    """Decision trees and forests: inputs rounded to float32 as scikit-learn's trees see them, each
    tree's leaf fractions summed tree by tree (as scikit-learn accumulates them) and divided by the
    number of trees."""
    trees = [_nodes(t) for t in spec["trees"]]
    count = float(len(trees))

    def step(x: Sequence[float]) -> list[float]:
        row = array("f", x)  # float32, as DecisionTreeClassifier validates its input
        leaves = []
        for nodes in trees:
            # Each node is one tuple (feature, threshold, left, right); a leaf is (-1, 0.0, its
            # fractions, None): one index and one unpack per level, the fastest walk in pure Python.
            feature, threshold, left, right = nodes[0]
            while feature >= 0:
                feature, threshold, left, right = nodes[left] if row[feature] <= threshold else nodes[right]
            leaves.append(left)
        return [total / count for total in map(sum, zip(*leaves, strict=True))]

    return step


def _nodes(tree: dict[str, Any]) -> list[tuple[Any, ...]]:
    left, right, feature, threshold, value = (tree[k] for k in ("left", "right", "feature", "threshold", "value"))
    return [(feature[i], threshold[i], left[i], right[i]) if left[i] >= 0 else (-1, 0.0, value[i], None)
            for i in range(len(left))]


STEPS: dict[str, Callable[[dict[str, Any]], Step]] = {
    "subtract_divide": _subtract_divide,
    "multiply_add": _multiply_add,
    "tfidf": _tfidf,
    "logistic": _logistic,
    "forest": _forest,
    "linear": _linear,
}


class LeanModel:
    """The pipeline's steps as Python closures; `predict_proba` takes validated Python rows."""

    input_dtype = None  # plain Python rows, not an array: see InputSchema.validate

    def __init__(self, steps: list[Step], classes: int) -> None:
        self._steps = steps
        self.classes = classes

    def predict_row(self, row: Any) -> list[float]:
        for step in self._steps:
            row = step(row)
        result: list[float] = row
        return result

    def predict_proba(self, inputs: Sequence[Any]) -> list[list[float]]:
        return [self.predict_row(row) for row in inputs]


def build(document: dict[str, Any]) -> LeanModel:
    """A model from a parsed model.lean.json, with a BundleError naming what is wrong with it."""
    if not isinstance(document, dict) or document.get("format") != LEAN_FORMAT:
        raise BundleError(f"model.lean.json is not in the {LEAN_FORMAT} format")
    steps = []
    for index, spec in enumerate(document.get("steps") or []):
        op = spec.get("op") if isinstance(spec, dict) else None
        if op not in STEPS:
            raise BundleError(f"model.lean.json step {index}: unknown op {op!r}; known: {', '.join(STEPS)}")
        try:
            steps.append(STEPS[op](spec))
        except (KeyError, TypeError, ValueError, IndexError, StopIteration, re.error) as exc:
            raise BundleError(f"model.lean.json step {index} ({op}) is malformed: {exc!r}") from exc
    if not steps:
        raise BundleError("model.lean.json has no steps")
    return LeanModel(steps, int(document.get("classes", 0)))


def preload(manifest: dict[str, Any]) -> None:
    """Nothing to import: the runtime is this module."""


def load_model(data: bytes, manifest: dict[str, Any], *, threads: int) -> LeanModel:
    del threads  # one Python thread evaluates a request
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BundleError(f"model.lean.json is not valid JSON: {exc}") from exc
    model = build(document)
    if model.classes != len(manifest.get("classes", [])):
        raise BundleError(f"model.lean.json has {model.classes} classes; the manifest lists "
                          f"{len(manifest['classes'])}")
    return model
