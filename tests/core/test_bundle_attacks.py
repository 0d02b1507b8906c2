"""Bundles as an attack surface (issue #20, item 2): the manifest is the root of trust, so every
path it names is contained in the bundle, its shape is checked, sizes are checked before any byte
is read, and a bundle must offer something a runtime can load."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prediction_core
from prediction_core import BundleError, BundleIntegrityError
from prediction_core.bundle import read_manifest, verify_bundle
from prediction_core.training import TrainResult


@pytest.fixture
def bundle(logreg_bundle: TrainResult, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(logreg_bundle.bundle_dir, out)
    return out


def _edit(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "secret.txt"
    path.write_text("do not read me")
    return path


@pytest.mark.parametrize("name", ["../outside/secret.txt", "/etc/passwd", "sub/model.onnx", "..", ".hidden"])
def test_a_manifest_naming_a_path_is_refused_naming_it(bundle: Path, name: str) -> None:
    _edit(bundle, lambda m: m["files"].update({name: {"sha256": "0" * 64, "bytes": 14}}))
    with pytest.raises(BundleIntegrityError, match="not a plain file name inside the bundle") as info:
        verify_bundle(bundle)
    assert info.value.file == name


def test_a_symlink_out_of_the_bundle_is_never_read(bundle: Path, secret: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    size = secret.stat().st_size
    (bundle / "model.onnx").unlink()
    os.symlink(secret, bundle / "model.onnx")
    _edit(bundle, lambda m: m["files"]["model.onnx"].update(bytes=size))
    reads: list[str] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(str(self)) or real(self))
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx: leads outside the bundle"):
        prediction_core.load(bundle, "onnx")
    assert not any("secret" in r or r.endswith("model.onnx") for r in reads)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["files"]["model.onnx"].pop("sha256"), r"model\.onnx has no valid sha256"),
    (lambda m: m["files"]["model.onnx"].update(sha256="abc"), r"model\.onnx has no valid sha256"),
    (lambda m: m["files"]["model.onnx"].pop("bytes"), r"model\.onnx has no valid size"),
    (lambda m: m.update(classes=7), "classes must be a list of strings, got 7"),
    (lambda m: m.update(files=[]), "files must be an object"),
    (lambda m: m.update(files={}), "lists no model artifact"),
])
def test_a_malformed_manifest_is_one_clear_error(bundle: Path, change: Callable[[dict[str, Any]], None],
                                                 message: str) -> None:
    _edit(bundle, change)
    with pytest.raises(BundleError, match=message):
        read_manifest(bundle)


def test_a_huge_file_is_refused_by_size_before_it_is_read(bundle: Path) -> None:
    with (bundle / "model.onnx").open("r+b") as fh:
        fh.truncate(2 * 1024**3)  # 2 GiB, sparse: costs no disk
    started = time.perf_counter()
    with pytest.raises(BundleIntegrityError, match=r"model\.onnx: 2,147,483,648 bytes, but the manifest says"):
        prediction_core.load(bundle, "onnx")
    assert time.perf_counter() - started < 1.0  # reading 2 GiB took up to 11 s


def test_the_cli_says_one_line_for_each(bundle: Path) -> None:
    from typer.testing import CliRunner

    from twinserve.cli import app

    _edit(bundle, lambda m: m["files"].update({"../x": {"sha256": "0" * 64, "bytes": 1}}))
    result = CliRunner().invoke(app, ["inspect", str(bundle)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "'../x' is not a plain file name" in result.output
