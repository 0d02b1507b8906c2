from __future__ import annotations

from collections.abc import Iterator
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


def _emulator_processes() -> list[str]:
    """Processes started by an emulator (they carry TWINSERVE_EMULATOR in their environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"TWINSERVE_EMULATOR=" in (proc / "environ").read_bytes():
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {cmdline[:120]}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_orphan_processes() -> Iterator[None]:
    """The whole suite leaves no Lambda environment process behind (checked after the last test)."""
    before = set(_emulator_processes())
    yield
    import time

    deadline = time.monotonic() + 5
    while (left := set(_emulator_processes()) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"emulator processes left behind: {sorted(left)}"
