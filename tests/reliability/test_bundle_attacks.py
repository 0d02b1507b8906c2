"""Bundles as an attack surface, as a table: each attack is refused with a message naming the file,
before any byte of it reaches a runtime's deserialiser, and nothing outside the bundle is read."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import prediction_core
from prediction_core import TwinserveError
from prediction_core.runtimes import import_runtime
from prediction_core.sources import load_configured
from prediction_core.training import TrainResult
from tests.reliability.conftest import Figures


def _manifest_names(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = manifest["files"].pop("model.onnx")
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _flip(name: str) -> Callable[[Path], None]:
    def attack(bundle: Path) -> None:
        data = bytearray((bundle / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (bundle / name).write_bytes(bytes(data))
    return attack


def _symlink_out(bundle: Path) -> None:
    secret = bundle.parent / "secret.onnx"
    shutil.copy(bundle / "model.onnx", secret)  # the right bytes, outside the bundle: still refused
    (bundle / "model.onnx").unlink()
    os.symlink(secret, bundle / "model.onnx")


def _sparse(bundle: Path) -> None:
    with (bundle / "model.onnx").open("r+b") as fh:
        fh.truncate(2 * 1024**3)


# attack -> (runtime loaded, what it does to a copy of the bundle, text the refusal must contain)
ATTACKS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "manifest names ../": ("onnx", lambda b: _manifest_names(b, "../outside.onnx"), "../outside.onnx"),
    "manifest names an absolute path": ("onnx", lambda b: _manifest_names(b, "/etc/passwd"), "/etc/passwd"),
    "model file is a symlink out of the bundle": ("onnx", _symlink_out, "model.onnx"),
    "tampered model.onnx": ("onnx", _flip("model.onnx"), "model.onnx"),
    "tampered model.joblib (a pickle)": ("sklearn", _flip("model.joblib"), "model.joblib"),
    "tampered model.lean.json": ("lean", _flip("model.lean.json"), "model.lean.json"),
    "missing manifest": ("onnx", lambda b: (b / "manifest.json").unlink(), "manifest.json"),
    "2 GiB sparse model file": ("onnx", _sparse, "model.onnx"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_bundle_attack_is_refused_before_deserialising(attack: str, logreg_bundle: TrainResult, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            figures: Figures) -> None:
    runtime, damage, named = ATTACKS[attack]
    module = import_runtime(runtime)
    reached: list[str] = []
    monkeypatch.setattr(module, "load_model", lambda *a, **k: reached.append(runtime))
    bundle = Path(shutil.copytree(logreg_bundle.bundle_dir, tmp_path / "bundle"))
    damage(bundle)
    with pytest.raises(TwinserveError) as info:
        prediction_core.load(bundle, runtime)
    figures.add("model bundles", attack, 1, int(bool(reached) or named not in info.value.message),
                "refused naming the file; not deserialised")
    assert named in info.value.message and reached == []


def test_a_tampered_object_behind_model_uri_is_refused(logreg_bundle: TrainResult, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, figures: Figures) -> None:
    credentials = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    reached: list[str] = []
    monkeypatch.setattr(import_runtime("onnx"), "load_model", lambda *a, **k: reached.append("onnx"))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        for path in logreg_bundle.bundle_dir.iterdir():
            body = path.read_bytes() if path.name != "model.onnx" else path.read_bytes()[::-1]
            s3.put_object(Bucket="models", Key=f"m/{path.name}", Body=body)
        with pytest.raises(TwinserveError) as info:
            load_configured(bundle=None, model_uri="s3://models/m", runtime="onnx", s3_client_factory=lambda: s3,
                            download_dir=tmp_path)
    figures.add("model bundles", "tampered object behind MODEL_URI (S3, moto)", 1,
                int(bool(reached) or "model.onnx" not in info.value.message), "refused naming the file")
    assert "model.onnx" in info.value.message and reached == []
