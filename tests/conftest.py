from __future__ import annotations

from pathlib import Path

import pytest

from prediction_core.training import TrainResult, train
from tests.helpers import write_sentiment_corpus


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sentiment_corpus(tmp_path_factory.mktemp("data") / "sentences.txt")


@pytest.fixture(scope="session")
def logreg_bundle(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train("breast-cancer-logreg", out=tmp_path_factory.mktemp("bundles") / "logreg")


@pytest.fixture(scope="session")
def forest_bundle(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train("breast-cancer-forest", out=tmp_path_factory.mktemp("bundles") / "forest",
                 params={"trees": 25})


@pytest.fixture(scope="session")
def text_bundle(tmp_path_factory: pytest.TempPathFactory, corpus_file: Path) -> TrainResult:
    return train("text-sentiment", out=tmp_path_factory.mktemp("bundles") / "text",
                 params={"data": str(corpus_file)})


@pytest.fixture(scope="session")
def bundles(logreg_bundle: TrainResult, forest_bundle: TrainResult,
            text_bundle: TrainResult) -> dict[str, TrainResult]:
    return {"breast-cancer-logreg": logreg_bundle, "breast-cancer-forest": forest_bundle,
            "text-sentiment": text_bundle}
