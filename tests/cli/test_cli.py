"""The CLI: train, inspect, predict (inline JSON, file, stdin), import; errors exit 2 with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prediction_core.training import TrainResult
from twinserve.cli import app

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_train_writes_a_bundle_and_prints_its_summary(tmp_path: Path) -> None:
    code, out, _ = invoke("train", "breast-cancer-forest", "--trees", "5", "--out", str(tmp_path / "b"))
    assert code == 0
    assert "breast-cancer-forest" in out and "held-out accuracy" in out
    assert (tmp_path / "b" / "manifest.json").is_file()


def test_train_list_shows_recipes() -> None:
    code, out, _ = invoke("train", "--list")
    assert code == 0 and "text-sentiment" in out


def test_train_refuses_an_option_the_recipe_does_not_take(tmp_path: Path) -> None:
    code, _, err = invoke("train", "breast-cancer-logreg", "--trees", "5", "--out", str(tmp_path / "b"))
    assert code == 2 and "does not take --trees" in err


def test_inspect_json_is_the_manifest(logreg_bundle: TrainResult) -> None:
    code, out, _ = invoke("inspect", str(logreg_bundle.bundle_dir), "--json")
    assert code == 0
    assert json.loads(out) == logreg_bundle.manifest


def test_inspect_table(logreg_bundle: TrainResult) -> None:
    code, out, _ = invoke("inspect", str(logreg_bundle.bundle_dir))
    assert code == 0 and "mean_radius" in out and "model.onnx" in out


@pytest.mark.parametrize("runtime", ["sklearn", "onnx"])
def test_predict_inline_file_and_stdin_agree(logreg_bundle: TrainResult, tmp_path: Path, runtime: str) -> None:
    import prediction_core

    example = prediction_core.load(logreg_bundle.bundle_dir).schema.example_instance()
    body = json.dumps({"instances": [example, example]})
    (tmp_path / "req.json").write_text(body)
    bundle = str(logreg_bundle.bundle_dir)
    outputs = [invoke("predict", "-b", bundle, "--runtime", runtime, "--input", body),
               invoke("predict", "-b", bundle, "--runtime", runtime, "--input", str(tmp_path / "req.json")),
               invoke("predict", "-b", bundle, "--runtime", runtime, stdin=body)]
    assert {code for code, _, _ in outputs} == {0}
    parsed = [json.loads(out) for _, out, _ in outputs]
    assert parsed[0] == parsed[1] == parsed[2]
    assert parsed[0]["model"] == {"name": "breast-cancer-logreg", "version": logreg_bundle.manifest["version"],
                                  "runtime": runtime}
    assert len(parsed[0]["predictions"]) == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"instances": [{"mean_radius": 1}]}', "instance 0.mean_texture: field required"),
        ("{not json", "not valid JSON"),
        ("", "empty"),
        ('{"rows": []}', "no 'instances' field"),
    ],
)
def test_predict_bad_input_exits_2_with_a_message(logreg_bundle: TrainResult, body: str, fragment: str) -> None:
    code, out, err = invoke("predict", "-b", str(logreg_bundle.bundle_dir), stdin=body)
    assert code == 2
    assert fragment in err
    assert out == ""


def test_import_command(tmp_path: Path) -> None:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(1).normal(size=(100, 2))
    joblib.dump(LogisticRegression().fit(x, np.where(x[:, 0] > 0, "up", "down")), tmp_path / "m.joblib")
    (tmp_path / "s.json").write_text(json.dumps({"features": [{"name": "p", "type": "number"},
                                                              {"name": "q", "type": "number"}]}))
    code, out, _ = invoke("import", "--model", str(tmp_path / "m.joblib"), "--schema", str(tmp_path / "s.json"),
                          "--out", str(tmp_path / "b"))
    assert code == 0 and "not evaluated" in out
    code, out, _ = invoke("predict", "-b", str(tmp_path / "b"), "--runtime", "onnx",
                          "--input", '{"instances": [{"p": 2.0, "q": 0.0}]}')
    assert code == 0 and json.loads(out)["predictions"][0]["label"] == "up"


def test_serve_runs_the_container_entrypoint(logreg_bundle: TrainResult) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.live_doors import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinserve", "serve", "--bundle", str(logreg_bundle.bundle_dir),
                             "--runtime", "onnx", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    health = json.loads(resp.read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.1)
        assert health == {"status": "ok", "model": {"name": "breast-cancer-logreg",
                                                    "version": logreg_bundle.manifest["version"], "runtime": "onnx"}}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        if proc.stderr:
            proc.stderr.close()


def test_serve_refuses_a_missing_bundle(tmp_path: Path) -> None:
    code, _, err = invoke("serve", "--bundle", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err
