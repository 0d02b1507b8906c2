"""ONNX Runtime: runs model.onnx with onnxruntime and numpy only (no scikit-learn import)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from prediction_core.exceptions import BundleError

PROBABILITIES_OUTPUT = "probabilities"


class OnnxModel:
    input_dtype = np.float32  # skl2onnx graphs here take float32 rows

    def __init__(self, session: ort.InferenceSession, *, text: bool) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._outputs = [PROBABILITIES_OUTPUT]
        self._text = text
        # InferenceSession.run re-validates names and ownership in Python on every call, which
        # costs about a third of a single-row prediction; the inputs here are built by the core
        # with the graph's own input name, so the binding's run is called directly when present.
        binding = getattr(session, "_sess", None)
        self._run = ((lambda feed: binding.run(self._outputs, feed, None)) if binding is not None
                     else (lambda feed: session.run(self._outputs, feed)))

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        # Converted graphs take float32 rows, or one string column for text models. The float32
        # result is returned as is: converting it to Python floats later is exact.
        feed = inputs.reshape(-1, 1) if self._text else inputs.astype(np.float32, copy=False)
        proba: np.ndarray = self._run({self._input: feed})[0]
        return proba


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
    if PROBABILITIES_OUTPUT not in outputs:
        raise BundleError(f"model.onnx has outputs {outputs}; expected one named {PROBABILITIES_OUTPUT!r}")
    return OnnxModel(session, text=manifest["input_schema"].get("kind") == "text")
