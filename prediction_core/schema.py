"""The model's input schema and the validation every door shares."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from prediction_core.exceptions import InvalidInstancesError, SchemaError

if TYPE_CHECKING:
    import numpy as np

FeatureType = Literal["number", "integer", "boolean", "string"]
InputKind = Literal["tabular", "text"]
FEATURE_TYPES: tuple[FeatureType, ...] = ("number", "integer", "boolean", "string")
# What a categorical (string) feature does with a value outside its categories: refuse it (422),
# or accept it and let the pipeline encode it (OneHotEncoder(handle_unknown="ignore"): all zeros).
UnknownPolicy = Literal["refuse", "accept"]
UNKNOWN_POLICIES: tuple[UnknownPolicy, ...] = ("refuse", "accept")
FEATURE_KEYS = frozenset({"name", "type", "minimum", "maximum", "max_length", "categories", "unknown", "optional"})
INPUT_KINDS: tuple[InputKind, ...] = ("tabular", "text")

# Lambda's synchronous payload limit (6 MB) caps a batch long before this does; the bound keeps
# one request from monopolising a container worker. Every door enforces the same number.
MAX_INSTANCES = 10_000
# Validation stops collecting after this many problems so an error body stays small.
MAX_REPORTED_ERRORS = 20
# Up to this many rows, checking ranges in Python beats numpy's per-call overhead (single-row
# requests are the common case on a serving path); above it, one vectorised pass wins.
SMALL_BATCH_ROWS = 32

_NUMERIC_TYPES = (int, float)
_NUMERIC_TYPE_SET = frozenset(_NUMERIC_TYPES)


@dataclass(frozen=True)
class Feature:
    """One input field: its name, JSON type, allowed range, length or categories, and whether it may
    be left out (an optional field arrives at the pipeline as a missing value, for it to impute)."""

    name: str
    type: FeatureType
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    categories: tuple[str, ...] | None = None
    unknown: UnknownPolicy = "refuse"
    optional: bool = False

    @property
    def numeric(self) -> bool:
        return self.type in ("number", "integer")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        for key in ("minimum", "maximum", "max_length"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.categories is not None:
            out["categories"] = list(self.categories)
            out["unknown"] = self.unknown
        if self.optional:
            out["optional"] = True
        return out


@dataclass(frozen=True)
class InputSchema:
    """Ordered features plus the kind of array the model takes (tabular rows or one text column)."""

    features: tuple[Feature, ...]
    kind: InputKind = "tabular"
    names: tuple[str, ...] = field(init=False)
    names_set: frozenset[str] = field(init=False, repr=False, compare=False)
    _bounded: bool = field(init=False, repr=False, compare=False)
    _row_getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    _low: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _high: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _integer_positions: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(f.name for f in self.features))
        object.__setattr__(self, "names_set", frozenset(self.names))
        numeric = [f for f in self.features if f.numeric]
        low = tuple(-math.inf if f.minimum is None else float(f.minimum) for f in numeric)
        high = tuple(math.inf if f.maximum is None else float(f.maximum) for f in numeric)
        object.__setattr__(self, "_low", low)
        object.__setattr__(self, "_high", high)
        object.__setattr__(self, "_integer_positions",
                           tuple(j for j, f in enumerate(numeric) if f.type == "integer"))
        object.__setattr__(self, "_bounded", self.numeric_only and all(map(math.isfinite, low + high)))
        getter = operator.itemgetter(*self.names)
        object.__setattr__(self, "_row_getter", getter if len(self.names) > 1 else lambda inst: (getter(inst),))

    @property
    def numeric_only(self) -> bool:
        """A tabular schema of required numbers and integers: validated into a float array (the
        fast paths). Any boolean, categorical or optional feature makes a table of Python rows."""
        return self.kind == "tabular" and all(f.numeric and not f.optional for f in self.features)

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bounds (±inf where unset) and integer columns as arrays, so a whole batch is range-checked
        in two numpy operations. Built on first use: the lean runtime validates without numpy."""
        import numpy as np

        return (np.array(self._low, dtype=np.float64), np.array(self._high, dtype=np.float64),
                np.array(self._integer_positions, dtype=np.intp))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "schema") -> InputSchema:
        """Build a schema from JSON data, with errors that say which entry is wrong."""
        if not isinstance(data, Mapping):
            raise SchemaError(f"{where}: expected an object with 'features', got {type(data).__name__}")
        kind = data.get("kind", "tabular")
        if kind not in INPUT_KINDS:
            raise SchemaError(f"{where}.kind: {kind!r} is not one of {', '.join(INPUT_KINDS)}")
        raw = data.get("features")
        if not isinstance(raw, list) or not raw:
            raise SchemaError(f"{where}.features: expected a non-empty list of features")
        features = tuple(_feature_from_dict(item, f"{where}.features[{i}]") for i, item in enumerate(raw))
        names = [f.name for f in features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"{where}.features: duplicate feature names {duplicates}")
        if kind == "text" and (len(features) != 1 or features[0].type != "string"):
            raise SchemaError(f"{where}: a 'text' schema has exactly one feature, of type 'string'")
        if kind == "text" and (features[0].categories is not None or features[0].optional):
            raise SchemaError(f"{where}: a 'text' feature takes no categories and is not optional")
        return cls(features=features, kind=kind)

    def example_instance(self) -> dict[str, Any]:
        """A valid instance (range midpoints, a short text), used for warm-up and smoke checks."""
        out: dict[str, Any] = {}
        for f in self.features:
            if f.type == "string":
                out[f.name] = f.categories[0] if f.categories else "example"
            elif f.type == "boolean":
                out[f.name] = True
            else:
                lo = f.minimum if f.minimum is not None else 0.0
                hi = f.maximum if f.maximum is not None else lo
                mid = (lo + hi) / 2.0
                out[f.name] = round(mid) if f.type == "integer" else mid
        return out

    def validate(self, instances: Any, *, dtype: Any = "float64") -> Any:
        """Check instances against the schema and return the model's input.

        Tabular schemas give an array of shape (n, features) in schema order; text schemas give an
        object array of n strings. `dtype` is the float type the runtime consumes (a numpy type or
        its name); checks always run on the exact values. `dtype=None` asks for plain Python input
        instead, with numpy never imported: a list of value tuples in schema order (tabular) or a
        list of strings (text), as the lean runtime consumes. Raises InvalidInstancesError naming
        index and field, the same errors either way.
        """
        _check_batch(instances)
        if self.kind == "text":
            texts = self._validate_text(instances)
            return texts if dtype is None else _object_array(texts)
        if not self.numeric_only:
            return self._validate_table(instances)
        if dtype is None:
            return self._python_rows(instances)
        fast = self._fast_tabular(instances, dtype)
        if fast is not None:
            return fast
        import numpy as np

        return np.asarray(self._validate_tabular(instances), dtype=dtype)

    def valid_row(self, instance: Any) -> tuple[int | float, ...] | None:
        """One instance's values in schema order when it is entirely valid, else None (and `validate`
        explains). Only for bounded tabular schemas, where every rule can be checked on the Python
        values: the single-row serving path then builds no array (see Predictor.predict)."""
        if self.kind != "tabular" or not self._bounded:
            return None
        row = self._row_values(instance)
        if row is None or not self._in_bounds(row) or not self._integral(row):
            return None
        return row

    def _row_values(self, instance: Any) -> tuple[Any, ...] | None:
        """The values of an exact dict with exactly the schema's keys, all int or float (bool is neither)."""
        if type(instance) is not dict or instance.keys() != self.names_set:
            return None
        row: tuple[Any, ...] = self._row_getter(instance)
        return row if set(map(type, row)) <= _NUMERIC_TYPE_SET else None

    def _in_bounds(self, row: tuple[Any, ...]) -> bool:
        # map(operator.le, …) runs the comparisons at C speed; NaN compares false, ±inf is out of bounds.
        le = operator.le
        return all(map(le, self._low, row)) and all(map(le, row, self._high))

    def _integral(self, row: tuple[Any, ...]) -> bool:
        for j in self._integer_positions:
            value = row[j]
            if type(value) is not int and not value.is_integer():
                return False
        return True

    def _python_rows(self, instances: Sequence[Any]) -> list[tuple[int | float, ...]]:
        """Valid rows as Python tuples (no numpy): the same rules as the array paths, checked per
        value. An unbounded feature still refuses NaN and infinity (the range check cannot)."""
        rows = []
        try:
            for inst in instances:
                row = self._row_values(inst)
                if (row is None or not self._in_bounds(row) or not self._integral(row)
                        or not (self._bounded or all(map(math.isfinite, row)))):
                    break
                rows.append(row)
            else:
                return rows
        except OverflowError:  # an int beyond float64 (Python's JSON parser keeps big ints)
            pass
        return self._validate_tabular(instances)  # raises, naming what was wrong

    def _fast_tabular(self, instances: Sequence[Any], dtype: Any) -> np.ndarray | None:
        """The array for a batch that is entirely valid, or None to let the detailed check explain.

        Same rules as the detailed path, arranged for speed: exact dicts with exactly the schema's
        keys, int/float values (bool is neither), then ranges, which with every feature bounded
        also reject NaN and infinity (NaN compares false, ±inf falls outside finite bounds).
        """
        import numpy as np

        rows = []
        for inst in instances:
            row = self._row_values(inst)
            if row is None:
                return None
            rows.append(row)
        minimums, maximums, integer_columns = self._arrays
        checked_in_python = len(rows) <= SMALL_BATCH_ROWS and self._bounded
        if checked_in_python:
            if not all(map(self._in_bounds, rows)):
                return None
            if not integer_columns.size:
                return np.array(rows, dtype=dtype)  # every check already ran on the Python values
        try:
            array = np.array(rows, dtype=np.float64)
        except OverflowError:  # an int beyond float64 (Python's JSON parser keeps big ints)
            return None
        if not checked_in_python and not (((array >= minimums) & (array <= maximums)).all()
                                          and np.isfinite(array).all()):
            return None
        if integer_columns.size:
            block = array[:, integer_columns]
            if not (block == np.floor(block)).all():
                return None
        return array.astype(dtype, copy=False)

    def _validate_tabular(self, instances: Sequence[Any]) -> list[tuple[float, ...]]:
        """The detailed check, in plain Python (it runs when a batch has a problem, or for an
        unbounded schema): rows of float values, or InvalidInstancesError with every problem."""
        names = self.names
        expected = set(names)
        rows: list[tuple[float, ...]] = []
        errors = _Errors()
        for index, inst in enumerate(instances):
            if not isinstance(inst, Mapping):
                errors.add(index, None, "type_error", f"instance must be an object, got {_json_type(inst)}")
                continue
            if inst.keys() != expected:
                _key_errors(errors, index, inst, names, expected)
                continue
            row = [inst[n] for n in names]
            # Fast path: one set of types per row instead of an isinstance call per value.
            kinds = {type(v) for v in row}
            if not kinds <= {int, float}:
                for name, value in zip(names, row, strict=True):
                    if type(value) not in _NUMERIC_TYPES:
                        errors.add(index, name, "type_error", f"expected a number, got {_json_type(value)}")
                continue
            rows.append(tuple(map(_to_float, row)))  # what a float64 array holds
            if errors.full:
                break
        errors.raise_if_any()
        self._check_values(rows, errors)
        errors.raise_if_any()
        return rows

    def _check_values(self, rows: list[tuple[float, ...]], errors: _Errors) -> None:
        """Finiteness (first, alone), then integer-ness, then ranges, each in row order."""
        bad = [(i, j) for i, row in enumerate(rows) for j, v in enumerate(row) if not math.isfinite(v)]
        if bad:
            for i, j in bad:
                errors.add(i, self.names[j], "value_error", NOT_FINITE)
            return
        for i, row in enumerate(rows):
            for j in self._integer_positions:
                if not row[j].is_integer():
                    errors.add(i, self.names[j], "type_error", _not_integer(row[j]))
        for i, row in enumerate(rows):
            for f, value in zip(self.features, row, strict=True):
                message = _range_message(f, value)
                if message is not None:
                    errors.add(i, f.name, "range_error", message)

    def _validate_table(self, instances: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a table with booleans, categories or optional fields, as Python tuples in schema
        order (None where an optional field is missing or null): the runtime builds its own input
        (a DataFrame with the fitted dtypes, an object array, or one ONNX input per column)."""
        features = self.features
        names = self.names_set
        required = {f.name for f in features if not f.optional}
        rows: list[tuple[Any, ...]] = []
        errors = _Errors()
        for index, inst in enumerate(instances):
            if not isinstance(inst, Mapping):
                errors.add(index, None, "type_error", f"instance must be an object, got {_json_type(inst)}")
                continue
            if not (required <= inst.keys() <= names):
                _key_errors(errors, index, inst, self.names, names, required=required)
                continue
            row = []
            for f in features:
                value = inst.get(f.name)
                problem = _value_problem(f, value)
                if problem is not None:
                    errors.add(index, f.name, *problem)
                row.append(value)
            rows.append(tuple(row))
            if errors.full:
                break
        errors.raise_if_any()
        return rows

    def _validate_text(self, instances: Sequence[Any]) -> list[str]:
        feature = self.features[0]
        expected = {feature.name}
        texts: list[str] = []
        errors = _Errors()
        for index, inst in enumerate(instances):
            if not isinstance(inst, Mapping):
                errors.add(index, None, "type_error", f"instance must be an object, got {_json_type(inst)}")
                continue
            if inst.keys() != expected:
                _key_errors(errors, index, inst, self.names, expected)
                continue
            value = inst[feature.name]
            if not isinstance(value, str):
                errors.add(index, feature.name, "type_error", f"expected a string, got {_json_type(value)}")
            elif feature.max_length is not None and len(value) > feature.max_length:
                errors.add(index, feature.name, "range_error",
                           f"text of {len(value)} characters exceeds max_length {feature.max_length}")
            else:
                texts.append(value)
        errors.raise_if_any()
        return texts


def _value_problem(f: Feature, value: Any) -> tuple[str, str] | None:
    """(error type, message) for one value of a table feature, or None when it is valid."""
    if value is None:
        return None if f.optional else ("type_error", f"expected {_article(f.type)}, got null")
    if f.type == "boolean":
        return None if type(value) is bool else ("type_error", f"expected a boolean, got {_json_type(value)}")
    if f.type == "string":
        if not isinstance(value, str):
            return "type_error", f"expected a string, got {_json_type(value)}"
        if f.max_length is not None and len(value) > f.max_length:
            return "range_error", f"text of {len(value)} characters exceeds max_length {f.max_length}"
        if f.categories is not None and f.unknown == "refuse" and value not in f.categories:
            shown = ", ".join(map(repr, f.categories[:10])) + (", …" if len(f.categories) > 10 else "")
            return "value_error", f"{value!r} is not one of the categories {shown}"
        return None
    if type(value) not in _NUMERIC_TYPES:
        return "type_error", f"expected a number, got {_json_type(value)}"
    number = _to_float(value)
    if not math.isfinite(number):
        return "value_error", NOT_FINITE
    if f.type == "integer" and not number.is_integer():
        return "type_error", _not_integer(number)
    message = _range_message(f, number)
    return None if message is None else ("range_error", message)


# The numeric messages, shared by the table check above and the tabular batch check.
NOT_FINITE = "must be a finite number (no NaN or infinity)"


def _not_integer(number: float) -> str:
    return f"expected an integer, got {number!r}"


def _range_message(f: Feature, number: float) -> str | None:
    if f.minimum is not None and number < f.minimum:
        return f"{number!r} is below the minimum {f.minimum!r}"
    if f.maximum is not None and number > f.maximum:
        return f"{number!r} is above the maximum {f.maximum!r}"
    return None


def _article(feature_type: str) -> str:
    return {"integer": "an integer", "boolean": "a boolean", "string": "a string"}.get(feature_type, "a number")


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _object_array(texts: list[str]) -> np.ndarray:
    import numpy as np

    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    return array


class _Errors:
    """Collects validation problems as {loc, type, message} and raises them together."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.total = 0

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_REPORTED_ERRORS

    def add(self, index: int, name: str | None, kind: str, message: str) -> None:
        self.total += 1
        if self.full:
            return
        loc: list[Any] = ["instances", index] if name is None else ["instances", index, name]
        self.items.append({"loc": loc, "type": kind, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        where = ".".join(str(p) for p in first["loc"][1:])
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        raise InvalidInstancesError(f"instance {where}: {first['message']}{more}", details=self.items)


def _check_batch(instances: Any) -> None:
    if not isinstance(instances, list):
        raise InvalidInstancesError(
            f"'instances' must be a list of objects, got {_json_type(instances)}",
            details=[{"loc": ["instances"], "type": "type_error", "message": "expected a list"}],
        )
    if not 1 <= len(instances) <= MAX_INSTANCES:
        raise InvalidInstancesError(
            f"'instances' must hold 1 to {MAX_INSTANCES} items, got {len(instances)}",
            details=[{"loc": ["instances"], "type": "size_error",
                      "message": f"expected 1 to {MAX_INSTANCES} items, got {len(instances)}"}],
        )


def _key_errors(errors: _Errors, index: int, inst: Mapping[str, Any], names: Sequence[str],
                expected: Collection[str], *, required: Collection[str] | None = None) -> None:
    """Missing required fields (all of `names` unless `required` says which), then unknown ones."""
    for name in names:
        if name not in inst and (required is None or name in required):
            errors.add(index, name, "missing", "field required")
    for name in inst:
        if name not in expected:
            errors.add(index, str(name), "unknown_field", f"unknown field (expected one of {len(names)} "
                                                          f"schema features, e.g. {names[0]!r})")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _feature_from_dict(item: Any, where: str) -> Feature:
    if not isinstance(item, Mapping):
        raise SchemaError(f"{where}: expected an object with 'name' and 'type'")
    unknown = set(item) - FEATURE_KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}; a feature takes "
                          f"{', '.join(sorted(FEATURE_KEYS))}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"{where}.name: expected a non-empty string")
    ftype = item.get("type")
    if ftype not in FEATURE_TYPES:
        raise SchemaError(f"{where}.type: {ftype!r} is not one of {', '.join(FEATURE_TYPES)}")
    bounds: dict[str, float | None] = {}
    for key in ("minimum", "maximum"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, _NUMERIC_TYPES)
                                  or not math.isfinite(value)):
            raise SchemaError(f"{where}.{key}: expected a finite number")
        bounds[key] = value
    lo, hi = bounds["minimum"], bounds["maximum"]
    if lo is not None and hi is not None and lo > hi:
        raise SchemaError(f"{where}: minimum {lo} is above maximum {hi}")
    max_length = item.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise SchemaError(f"{where}.max_length: expected a positive integer")
    if (lo is not None or hi is not None) and ftype not in ("number", "integer"):
        raise SchemaError(f"{where}: minimum and maximum apply to number and integer features, not {ftype}")
    categories = item.get("categories")
    if categories is not None:
        if ftype != "string":
            raise SchemaError(f"{where}.categories: only a string feature has categories")
        if (not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories)
                or len(set(categories)) != len(categories)):
            raise SchemaError(f"{where}.categories: expected a non-empty list of distinct strings")
        categories = tuple(categories)
    policy = item.get("unknown", "refuse")
    if policy not in UNKNOWN_POLICIES or ("unknown" in item and categories is None):
        raise SchemaError(f"{where}.unknown: {policy!r} must be one of {', '.join(UNKNOWN_POLICIES)}, "
                          "and only with categories")
    optional = item.get("optional", False)
    if not isinstance(optional, bool):
        raise SchemaError(f"{where}.optional: expected true or false")
    return Feature(name=name, type=ftype, minimum=lo, maximum=hi, max_length=max_length,
                   categories=categories, unknown=policy, optional=optional)
