"""Every validation rule rejects bad input with a message that names the instance and the field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from prediction_core import MAX_INSTANCES, Feature, InputSchema, InvalidInstancesError, SchemaError

SCHEMA = InputSchema(features=(
    Feature("radius", "number", minimum=0.0, maximum=50.0),
    Feature("count", "integer", minimum=0, maximum=10),
))
TEXT = InputSchema(features=(Feature("text", "string", max_length=20),), kind="text")
GOOD = {"radius": 12.5, "count": 3}


def rejected(schema: InputSchema, instances: Any) -> InvalidInstancesError:
    with pytest.raises(InvalidInstancesError) as info:
        schema.validate(instances)
    return info.value


def test_valid_rows_become_a_float_array_in_schema_order() -> None:
    array = SCHEMA.validate([{"count": 1, "radius": 2.0}, GOOD])
    assert array.dtype == np.float64
    assert array.tolist() == [[2.0, 1.0], [12.5, 3.0]]


@pytest.mark.parametrize(
    ("instance", "field", "kind"),
    [
        ({"radius": 1.0}, "count", "missing"),
        ({**GOOD, "colour": 1}, "colour", "unknown_field"),
        ({**GOOD, "radius": "12.5"}, "radius", "type_error"),
        ({**GOOD, "radius": True}, "radius", "type_error"),
        ({**GOOD, "radius": None}, "radius", "type_error"),
        ({**GOOD, "radius": [1.0]}, "radius", "type_error"),
        ({**GOOD, "radius": math.nan}, "radius", "value_error"),
        ({**GOOD, "radius": math.inf}, "radius", "value_error"),
        ({**GOOD, "radius": -0.5}, "radius", "range_error"),
        ({**GOOD, "radius": 50.01}, "radius", "range_error"),
        ({**GOOD, "count": 2.5}, "count", "type_error"),
    ],
)
def test_each_rule_names_index_and_field(instance: dict[str, Any], field: str, kind: str) -> None:
    error = rejected(SCHEMA, [GOOD, instance])
    assert f"instance 1.{field}:" in error.message
    assert error.details[0]["loc"] == ["instances", 1, field]
    assert error.details[0]["type"] == kind


def test_instance_that_is_not_an_object_is_named() -> None:
    error = rejected(SCHEMA, [GOOD, GOOD, [1, 2]])
    assert error.details[0]["loc"] == ["instances", 2]
    assert "must be an object, got array" in error.message


@pytest.mark.parametrize("batch", [[], {"radius": 1}, "rows", None])
def test_batch_must_be_a_non_empty_list(batch: Any) -> None:
    error = rejected(SCHEMA, batch)
    assert error.details[0]["loc"] == ["instances"]


def test_batch_over_the_limit_is_refused_before_any_row_is_read() -> None:
    error = rejected(SCHEMA, [GOOD] * (MAX_INSTANCES + 1))
    assert f"1 to {MAX_INSTANCES} items, got {MAX_INSTANCES + 1}" in error.message
    assert len(SCHEMA.validate([GOOD] * MAX_INSTANCES)) == MAX_INSTANCES


def test_many_problems_are_counted_but_the_body_stays_small() -> None:
    error = rejected(SCHEMA, [{**GOOD, "radius": -1.0}] * 500)
    assert len(error.details) == 20
    assert "(and 499 more)" in error.message


def test_text_rules() -> None:
    assert TEXT.validate([{"text": "fine"}]).tolist() == ["fine"]
    assert rejected(TEXT, [{"text": 3}]).details[0]["loc"] == ["instances", 0, "text"]
    assert rejected(TEXT, [{"text": "x" * 21}]).details[0]["type"] == "range_error"
    assert rejected(TEXT, [{"body": "x"}]).details[0]["type"] == "missing"


def test_schema_round_trips_through_json_form() -> None:
    assert InputSchema.from_dict(SCHEMA.to_dict()) == SCHEMA


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"features": []}, "non-empty list"),
        ({"features": [{"name": "a", "type": "float"}]}, "features[0].type"),
        ({"features": [{"name": "a", "type": "number", "minimum": 2, "maximum": 1}]}, "minimum 2 is above"),
        ({"features": [{"name": "a", "type": "number"}, {"name": "a", "type": "number"}]}, "duplicate"),
        ({"kind": "image", "features": [{"name": "a", "type": "number"}]}, "kind"),
        ({"features": [{"name": "a", "type": "number", "unit": "cm"}]}, "unknown keys ['unit']"),
        ({"kind": "text", "features": [{"name": "a", "type": "number"}]}, "exactly one feature"),
    ],
)
def test_bad_schema_files_say_what_is_wrong(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError, match=None) as info:
        InputSchema.from_dict(data)
    assert fragment in info.value.message


def test_example_instance_is_valid() -> None:
    assert SCHEMA.validate([SCHEMA.example_instance()]).shape == (1, 2)
    assert TEXT.validate([TEXT.example_instance()]).shape == (1,)


# --- the fast path and the detailed path agree on every input -------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from prediction_core.schema import SMALL_BATCH_ROWS  # noqa: E402

UNBOUNDED = InputSchema(features=(Feature("x", "number"), Feature("n", "integer", minimum=0)))
VALID = st.one_of(st.floats(min_value=0, max_value=50), st.integers(min_value=0, max_value=10))
INVALID = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-5, max_value=60),
                    st.booleans(), st.none(), st.text(max_size=2))
# Mostly valid values, so that whole valid batches (the fast path's accept side) are common too.
VALUES = st.one_of(VALID, VALID, VALID, VALID, VALID, VALID, VALID, VALID, VALID, INVALID)


def _instances(names: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries({n: VALUES for n in names})
    return st.lists(row, min_size=1, max_size=SMALL_BATCH_ROWS + 8)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), schema=st.sampled_from([SCHEMA, UNBOUNDED]))
def test_fast_and_detailed_validation_agree(data: st.DataObject, schema: InputSchema) -> None:
    instances = data.draw(_instances(schema.names))
    try:
        detailed = schema._validate_tabular(instances)
    except InvalidInstancesError:
        detailed = None
    fast = schema._fast_tabular(instances, np.float64)
    if detailed is None:
        assert fast is None
        with pytest.raises(InvalidInstancesError):
            schema.validate(instances)
    else:
        assert fast is not None and np.array_equal(fast, detailed)
        assert np.array_equal(schema.validate(instances), detailed)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_single_row_check_accepts_exactly_what_validation_accepts(data: st.DataObject) -> None:
    instance = data.draw(st.fixed_dictionaries({n: VALUES for n in SCHEMA.names}))
    row = SCHEMA.valid_row(instance)
    try:
        expected = SCHEMA._validate_tabular([instance])
    except InvalidInstancesError:
        assert row is None
    else:
        assert row is not None and np.array_equal(np.array([row], dtype=np.float64), expected)


def test_the_single_row_check_declines_what_it_cannot_check_in_python() -> None:
    assert UNBOUNDED.valid_row({"x": 1.0, "n": 2}) is None  # unbounded: NaN/inf need the array check
    assert TEXT.valid_row({"text": "hi"}) is None
    assert SCHEMA.valid_row({"radius": 1.0, "count": 2.5}) is None  # not an integer
    assert SCHEMA.valid_row({"radius": 1.0, "count": 2.0}) == (1.0, 2.0)
