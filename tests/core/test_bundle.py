"""Bundles: integrity is checked on the exact bytes before anything is unpickled."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

import prediction_core
from prediction_core import BundleError, BundleIntegrityError, RuntimeNotAvailableError
from prediction_core.bundle import sha256_file, verify_bundle
from prediction_core.training import TrainResult


@pytest.fixture
def bundle_copy(logreg_bundle: TrainResult, tmp_path: Path) -> Path:
    return Path(shutil.copytree(logreg_bundle.bundle_dir, tmp_path / "bundle"))


def test_manifest_lists_every_file_with_its_hash(logreg_bundle: TrainResult) -> None:
    files = logreg_bundle.manifest["files"]
    assert set(files) == {"model.joblib", "model.onnx", "model.lean.json"}
    for name, entry in files.items():
        path = logreg_bundle.bundle_dir / name
        assert entry["sha256"] == sha256_file(path)
        assert entry["bytes"] == path.stat().st_size


@pytest.mark.parametrize(("runtime", "name"), [("sklearn", "model.joblib"), ("onnx", "model.onnx"),
                                              ("lean", "model.lean.json")])
def test_one_flipped_byte_is_refused_with_the_file_named(bundle_copy: Path, runtime: str, name: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from prediction_core.runtimes import import_runtime

    module = import_runtime(runtime)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} reached the {runtime} runtime's deserialiser")

    monkeypatch.setattr(module, "load_model", never)  # proof that no byte of it is deserialised
    path = bundle_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError) as info:
        prediction_core.load(bundle_copy, runtime)
    assert info.value.file == name
    assert name in info.value.message and "does not match the manifest" in info.value.message


class _Payload:
    """Unpickling this writes a marker file: proof of whether a pickle was ever loaded."""

    marker = ""

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_a_malicious_pickle_is_never_loaded(bundle_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = str(marker)
    (bundle_copy / "model.joblib").write_bytes(pickle.dumps(payload))
    with pytest.raises(BundleIntegrityError):
        prediction_core.load(bundle_copy, "sklearn")
    assert not marker.exists()


def test_missing_artifact_is_named(bundle_copy: Path) -> None:
    (bundle_copy / "model.onnx").unlink()
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx: listed in manifest\.json but missing"):
        prediction_core.load(bundle_copy, "onnx")
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx"):
        verify_bundle(bundle_copy)


def test_missing_manifest_and_missing_directory(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(BundleIntegrityError, match=r"manifest\.json is missing"):
        prediction_core.load(bundle_copy)
    with pytest.raises(BundleError, match="does not exist"):
        prediction_core.load(tmp_path / "nowhere")


def test_foreign_manifest_format_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "manifest.json").write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(BundleError, match="'other/9' is not 'twinserve-bundle/1'"):
        prediction_core.load(bundle_copy)


def test_unknown_runtime_lists_the_choices(logreg_bundle: TrainResult) -> None:
    with pytest.raises(RuntimeNotAvailableError, match="choose one of sklearn, onnx"):
        prediction_core.load(logreg_bundle.bundle_dir, "tensorrt")


def test_timing_hooks_record_each_cold_step(logreg_bundle: TrainResult) -> None:
    predictor = prediction_core.load(logreg_bundle.bundle_dir, "onnx")
    assert predictor.timings.first_predict_ms is None
    predictor.warmup()
    t = predictor.timings
    assert t.runtime_import_ms >= 0 and t.verify_ms > 0 and t.model_load_ms > 0
    assert t.first_predict_ms is not None and t.first_predict_ms > 0
    first = t.first_predict_ms
    predictor.warmup()
    assert predictor.timings.first_predict_ms == first
