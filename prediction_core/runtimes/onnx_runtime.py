"""ONNX Runtime: runs model.onnx with onnxruntime and numpy only (no scikit-learn import)."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort

from prediction_core.exceptions import BundleError

PROBABILITIES_OUTPUT = "probabilities"  # a classifier's, converted with zipmap off
VALUES_OUTPUT = "variable"  # a regressor's, as skl2onnx names it
# numpy dtype for each ONNX input type a table column can have (one input per column).
_COLUMN_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                 "tensor(string)": object, "tensor(bool)": bool}


class OnnxModel:
    """Runs a converted pipeline. A numeric table is one float32 input (rows); a table with
    categories or booleans is one input per column, named as the column (input_dtype None: the
    validated Python rows, split into columns here)."""

    input_dtype: Any = np.float32  # skl2onnx graphs here take float32 rows

    def __init__(self, session: ort.InferenceSession, *, text: bool, output: str = PROBABILITIES_OUTPUT) -> None:
        self._session = session
        inputs = session.get_inputs()
        self._input = inputs[0].name
        self._columns = [(i.name, _COLUMN_TYPES.get(i.type, object)) for i in inputs] if len(inputs) > 1 else None
        if self._columns is not None:
            self.input_dtype = None
        self._outputs = [output]
        self._text = text
        # InferenceSession.run re-validates names and ownership in Python on every call, which
        # costs about a third of a single-row prediction; the inputs here are built by the core
        # with the graph's own input name, so the binding's run is called directly when present.
        # Passing no RunOptions makes the binding build a default one per call: one is kept instead.
        binding = getattr(session, "_sess", None)
        options = ort.RunOptions()
        self._run: Callable[[dict[str, np.ndarray]], list[np.ndarray]] = (
            (lambda feed: binding.run(self._outputs, feed, options)) if binding is not None
            else (lambda feed: session.run(self._outputs, feed, options)))
        self._single_row = None if text or self._columns is not None else _SingleRow.build(session, self._input, output)

    def predict_row(self, row: tuple[int | float, ...]) -> list[float] | None:
        """Probabilities for one validated row, or None when it must take `predict_proba`."""
        return self._single_row.run_row(row) if self._single_row is not None else None

    def predict_proba(self, inputs: Any) -> np.ndarray:
        # Converted graphs take float32 rows, or one string column for text models. The float32
        # result is returned as is: converting it to Python floats later is exact.
        if self._single_row is not None and inputs.shape[0] == 1:
            proba = self._single_row.run(inputs)
            if proba is not None:
                return proba
        if self._columns is not None:
            result: np.ndarray = self._run(self._column_feed(inputs))[0]
        else:
            feed = inputs.reshape(-1, 1) if self._text else inputs.astype(np.float32, copy=False)
            result = self._run({self._input: feed})[0]
        return result.reshape(len(inputs), -1)

    def _column_feed(self, rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
        """One (n, 1) array per input, in the input's type; a missing number is NaN, as the
        converted imputer expects, and a missing string is the empty string."""
        assert self._columns is not None
        feed = {}
        for (name, dtype), values in zip(self._columns, zip(*rows, strict=True), strict=True):
            if dtype is object:
                column = np.array(["" if v is None else str(v) for v in values], dtype=object)
            elif dtype in (np.float32, np.float64):
                column = np.array([np.nan if v is None else v for v in values], dtype=dtype)
            else:
                column = np.array(values, dtype=dtype)
            feed[name] = column.reshape(-1, 1)
        return feed


class _SingleRow:
    """One row through buffers bound to the session once (IOBinding), the serving path's common case.

    `run` with a feed dict converts the array to an OrtValue and the output back to a new array on
    every call: about half of a single-row prediction. Bound buffers skip both, and the answer is
    the same graph's on the same float32 values (a test compares them bit for bit). The buffers are
    shared, so a call that finds them busy (another thread) takes the ordinary path instead.
    """

    def __init__(self, session: ort.InferenceSession, binding: ort.IOBinding, row: np.ndarray,
                 out: np.ndarray) -> None:
        self._row = row  # the binding points at these two arrays' memory: they live as long as it does
        self._out = out
        self._busy = threading.Lock()
        # Python values are packed straight into the bound input as float32: the same C double to
        # float rounding as numpy's astype, with no array built per request.
        self._pack = struct.Struct(f"={row.shape[1]}f").pack_into
        self._row_memory = row.data.cast("B")
        options = ort.RunOptions()
        native_session, native_binding = getattr(session, "_sess", None), getattr(binding, "_iobinding", None)
        # As above, the binding's own call skips a Python layer (and a per-call RunOptions).
        self._execute: Callable[[], Any] = (
            (lambda: native_session.run_with_iobinding(native_binding, options))
            if native_session is not None and native_binding is not None
            else (lambda: session.run_with_iobinding(binding, options)))

    @classmethod
    def build(cls, session: ort.InferenceSession, input_name: str, output: str) -> _SingleRow | None:
        """Bind a (1, features) input and a (1, classes) output, or None when the graph's shapes are not fixed."""
        features = session.get_inputs()[0].shape[-1]
        classes = next(o.shape[-1] for o in session.get_outputs() if o.name == output)
        if not (isinstance(features, int) and isinstance(classes, int)):
            return None
        row = np.zeros((1, features), dtype=np.float32)
        out = np.zeros((1, classes), dtype=np.float32)
        binding = session.io_binding()
        binding.bind_cpu_input(input_name, row)
        binding.bind_output(output, "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
        return cls(session, binding, row, out)

    def run_row(self, row: tuple[int | float, ...]) -> list[float] | None:
        if not self._busy.acquire(blocking=False):
            return None
        try:
            try:
                self._pack(self._row_memory, 0, *row)
            except (OverflowError, struct.error):  # beyond float32's range: numpy's path makes it ±inf
                return None
            self._execute()
            probabilities: list[float] = self._out[0].tolist()
            return probabilities
        finally:
            self._busy.release()

    def run(self, inputs: np.ndarray) -> np.ndarray | None:
        if not self._busy.acquire(blocking=False):
            return None
        try:
            self._row[...] = inputs
            self._execute()
            return self._out.copy()
        finally:
            self._busy.release()


def preload(manifest: dict[str, Any]) -> None:
    """Nothing beyond onnxruntime itself, imported with this module."""


def load_model(data: bytes, manifest: dict[str, Any], *, threads: int) -> OnnxModel:
    options = ort.SessionOptions()
    # One request per worker process: more intra-op threads only fight the other workers for cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    wanted = VALUES_OUTPUT if manifest.get("task") == "regression" else PROBABILITIES_OUTPUT
    if wanted not in outputs:
        raise BundleError(f"model.onnx has outputs {outputs}; expected one named {wanted!r}")
    return OnnxModel(session, text=manifest["input_schema"].get("kind") == "text", output=wanted)
