"""Models as teams have them, through every door: the CLI, the container service and both Lambda
doors give the same answers for a DataFrame pipeline with categories, multi-class boosting and a
regressor, with every runtime the bundle offers; then packaged, run in the emulator, and reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import prediction_core
from prediction_core.training import TrainResult, import_pipeline
from tests.byo_models import BYO_MODELS, ByoModel
from tests.live_doors import EventDoor, LiveService, Request, import_fresh, lambda_env
from twinserve.cli import app


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ByoModel, TrainResult]]:
    root = tmp_path_factory.mktemp("byo-doors")
    return {name: (model, import_pipeline(model.model, model.schema, out=root / name, heldout_path=model.heldout))
            for name, make in BYO_MODELS.items() for model in [make(root / "models")]}


def cases(model: ByoModel) -> list[Request]:
    good = model.instances[:5]
    first = model.instances[0]
    field = next(iter(first))
    return [Request("batch", "POST", "/predict", json.dumps({"instances": good}).encode()),
            *[Request(f"single-{i}", "POST", "/predict", json.dumps({"instances": [inst]}).encode())
              for i, inst in enumerate(good)],
            Request("wrong-type", "POST", "/predict", json.dumps({"instances": [{**first, field: [1]}]}).encode()),
            Request("missing", "POST", "/predict",
                    json.dumps({"instances": [{k: v for k, v in first.items() if k != field}]}).encode()),
            Request("model", "GET", "/model", None, {})]


@pytest.fixture(scope="module", params=[(name, runtime) for name, runtimes in
                                        (("dataframe-columns", ("sklearn", "onnx")),
                                         ("boosting-multiclass", ("sklearn", "onnx")),
                                         ("ridge-regression", ("sklearn", "onnx", "lean")))
                                        for runtime in runtimes], ids=lambda p: f"{p[0]}-{p[1]}")
def doors(request: pytest.FixtureRequest, imported: dict[str, tuple[ByoModel, TrainResult]]
          ) -> Iterator[tuple[ByoModel, TrainResult, str, dict[str, Any]]]:
    name, runtime = request.param
    model, result = imported[name]
    with lambda_env(result.bundle_dir, runtime):
        native = import_fresh("functions.predict.handler")
        mangum = import_fresh("functions.asgi.handler")
        service = LiveService(result.bundle_dir, runtime)
        try:
            found: dict[str, Any] = {"native": EventDoor(native.handler, "http-api-v2"),
                                     "native-alb": EventDoor(native.handler, "alb"),
                                     "asgi": EventDoor(mangum.handler, "rest-api-v1"), "container": service}
            yield model, result, runtime, found
        finally:
            assert service.stop() == 0


def test_every_door_answers_a_byo_model_alike(doors: tuple[ByoModel, TrainResult, str, dict[str, Any]]) -> None:
    model, result, runtime, found = doors
    for req in cases(model):
        replies = {name: door.send(req) for name, door in found.items()}
        reference = replies["container"]
        for name, (status, _, data) in replies.items():
            assert (status, data) == (reference[0], reference[2]), (req.label, name)
        if req.label.startswith(("batch", "single")):
            assert reference[0] == 200
            assert reference[2]["model"]["runtime"] == runtime
        elif req.label == "model":
            assert reference[2]["task"] == result.manifest["task"]
        else:
            assert reference[0] == 422
    # The CLI speaks the same contract: same predictions as the doors for the batch.
    batch = cases(model)[0]
    out = CliRunner().invoke(app, ["predict", "--bundle", str(result.bundle_dir), "--runtime", runtime,
                                   "--input", batch.body.decode()])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["predictions"] == found["container"].send(batch)[2]["predictions"]
    direct = prediction_core.load(result.bundle_dir, runtime).predict(model.instances[:5])
    assert direct == json.loads(out.output)["predictions"]


def test_a_regressor_answers_a_value_and_boosting_a_probability_per_class(
        imported: dict[str, tuple[ByoModel, TrainResult]]) -> None:
    ridge = prediction_core.load(imported["ridge-regression"][1].bundle_dir)
    assert list(ridge.predict(imported["ridge-regression"][0].instances[:1])[0]) == ["value"]
    gb = prediction_core.load(imported["boosting-multiclass"][1].bundle_dir)
    assert set(gb.predict(imported["boosting-multiclass"][0].instances[:1])[0]["probabilities"]) == {
        "setosa", "versicolor", "virginica"}


def test_a_dataframe_pipeline_ships_pandas_with_the_scikit_learn_runtime_only(
        imported: dict[str, tuple[ByoModel, TrainResult]]) -> None:
    from twinserve.packaging import pinned_requirements

    frame = imported["dataframe-columns"][1].bundle_dir
    array = imported["ridge-regression"][1].bundle_dir
    assert any(r.startswith("pandas==") for r in pinned_requirements("native", "sklearn", bundle=frame))
    assert not any(r.startswith("pandas==") for r in pinned_requirements("native", "onnx", bundle=frame))
    assert not any(r.startswith("pandas==") for r in pinned_requirements("native", "sklearn", bundle=array))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "runtime", "scenarios"), [
    ("dataframe-columns", "onnx", ["cold-start", "warm"]),
    ("boosting-multiclass", "onnx", ["cold-start", "model-size"]),
    ("ridge-regression", "lean", ["cold-start", "warm"]),
])
def test_each_model_is_packaged_run_in_the_emulator_and_reported(
        imported: dict[str, tuple[ByoModel, TrainResult]], tmp_path: Path, name: str, runtime: str,
        scenarios: list[str]) -> None:
    result = imported[name][1]
    out = tmp_path / "run"
    args = ["bench", "--target", "local-lambda", "--bundle", str(result.bundle_dir), "--runtime", runtime,
            "--quick", "--out", str(out)]
    for scenario in scenarios:
        args += ["--scenario", scenario]
    bench = CliRunner().invoke(app, args)
    assert bench.exit_code == 0, bench.output
    summary = json.loads((out / "summary.json").read_text())
    assert all(g["ok"] == g["requests"] for g in summary["groups"]), summary["groups"]
    report = CliRunner().invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    md = (out / "report.md").read_text()
    manifest_line = f"Model: {result.manifest['name']} version {result.manifest['version']} ({result.manifest['task']}"
    assert manifest_line in md and "manifest SHA-256" in md
    if "model-size" in scenarios:  # the model's own family: the first 10 of its 30 boosting stages, and all 30
        assert set(summary["findings"]["local-lambda/model-size"]["by_trees"]) == {"10", "30"}
        assert (out / "report-model_size.png").is_file()
