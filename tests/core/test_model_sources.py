"""MODEL_URI=s3://…: the bundle is fetched with boto3 (moto at the AWS boundary) and verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from prediction_core import BundleError, BundleIntegrityError
from prediction_core.sources import fetch_s3_bundle, load_configured, split_s3_uri
from prediction_core.training import TrainResult
from tests.live_doors import EventDoor, Request, import_fresh, lambda_env

BUCKET = "twinserve-models"


@pytest.fixture
def s3(logreg_bundle: TrainResult, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for path in logreg_bundle.bundle_dir.iterdir():
            client.put_object(Bucket=BUCKET, Key=f"models/logreg/{path.name}", Body=path.read_bytes())
        yield client


def test_split_uri() -> None:
    assert split_s3_uri("s3://b/a/b/") == ("b", "a/b")
    with pytest.raises(BundleError, match="s3://bucket/prefix"):
        split_s3_uri("https://b/a")


def test_fetch_downloads_only_what_the_runtime_needs(s3: object, tmp_path: Path) -> None:
    dest = fetch_s3_bundle(f"s3://{BUCKET}/models/logreg", tmp_path, s3, runtime="onnx")  # type: ignore[arg-type]
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "model.onnx"]
    predictor = load_configured(bundle=None, model_uri=f"s3://{BUCKET}/models/logreg", runtime="onnx",
                                s3_client_factory=lambda: s3, download_dir=tmp_path)
    assert predictor.predict([predictor.schema.example_instance()])[0]["label"] in predictor.classes


def test_tampered_object_in_s3_is_refused(s3: object, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="models/logreg/model.joblib", Body=b"not the model")  # type: ignore[attr-defined]
    with pytest.raises(BundleIntegrityError, match=r"model\.joblib"):
        load_configured(bundle=None, model_uri=f"s3://{BUCKET}/models/logreg", runtime="sklearn",
                        s3_client_factory=lambda: s3, download_dir=tmp_path)


def test_missing_prefix_names_the_key(s3: object, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=f"cannot read s3://{BUCKET}/models/nope/manifest.json"):
        load_configured(bundle=None, model_uri=f"s3://{BUCKET}/models/nope", runtime="onnx",
                        s3_client_factory=lambda: s3, download_dir=tmp_path)


def test_native_handler_loads_from_model_uri(s3: object, logreg_bundle: TrainResult, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with lambda_env(Path("/nonexistent"), "onnx"):
        monkeypatch.setenv("MODEL_URI", f"s3://{BUCKET}/models/logreg")
        handler = import_fresh("functions.predict.handler")
    assert handler.PREDICTOR.version == logreg_bundle.manifest["version"]
    door = EventDoor(handler.handler, "http-api-v2")
    body = json.dumps({"instances": [handler.PREDICTOR.schema.example_instance()]}).encode()
    status, _, data = door.send(Request("s3", "POST", "/predict", body))
    assert status == 200 and data["model"]["version"] == logreg_bundle.manifest["version"]


def test_a_repaired_object_is_fetched_on_the_next_start(s3: object, logreg_bundle: TrainResult,
                                                        tmp_path: Path) -> None:
    good = (logreg_bundle.bundle_dir / "model.onnx").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="models/logreg/model.onnx", Body=b"half a model")  # type: ignore[attr-defined]
    uri = f"s3://{BUCKET}/models/logreg"
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx"):
        load_configured(bundle=None, model_uri=uri, runtime="onnx", s3_client_factory=lambda: s3,
                        download_dir=tmp_path)
    s3.put_object(Bucket=BUCKET, Key="models/logreg/model.onnx", Body=good)  # type: ignore[attr-defined]
    predictor = load_configured(bundle=None, model_uri=uri, runtime="onnx", s3_client_factory=lambda: s3,
                                download_dir=tmp_path)  # same manifest, same cache folder: fetched again
    assert predictor.version == logreg_bundle.manifest["version"]


class FlakyS3:
    """Serves a bad copy first, then the good one (an eventually consistent or repaired object)."""

    def __init__(self, real: object, bad_times: int) -> None:
        self.real, self.bad_times, self.downloads = real, bad_times, 0

    def get_object(self, **kwargs: object) -> dict[str, object]:
        return self.real.get_object(**kwargs)  # type: ignore[attr-defined, no-any-return]

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        self.downloads += 1
        if self.downloads <= self.bad_times:
            Path(filename).write_bytes(b"corrupt")
            return
        self.real.download_file(bucket, key, filename)  # type: ignore[attr-defined]


def test_a_bad_download_is_fetched_again_once_and_never_left_under_the_real_name(s3: object,
                                                                                   tmp_path: Path) -> None:
    flaky = FlakyS3(s3, bad_times=1)
    dest = fetch_s3_bundle(f"s3://{BUCKET}/models/logreg", tmp_path, flaky, runtime="onnx")  # type: ignore[arg-type]
    assert flaky.downloads == 2
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "model.onnx"]  # no partial left
    always_bad = FlakyS3(s3, bad_times=5)
    with pytest.raises(BundleIntegrityError):
        load_configured(bundle=None, model_uri=f"s3://{BUCKET}/models/logreg", runtime="onnx",
                        s3_client_factory=lambda: always_bad, download_dir=tmp_path / "other")
    assert always_bad.downloads == 2  # once more, not forever
