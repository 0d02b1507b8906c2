"""Model bundles on disk: a directory with the artifacts and a manifest that hashes each of them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from prediction_core.exceptions import BundleError, BundleIntegrityError
from prediction_core.schema import InputSchema

BUNDLE_FORMAT = "twinserve-bundle/1"
MANIFEST_NAME = "manifest.json"
SKLEARN_FILE = "model.joblib"
ONNX_FILE = "model.onnx"
LEAN_FILE = "model.lean.json"
# Which artifact each runtime loads. A runtime is offered only when its file is in the manifest.
RUNTIME_FILES = {"sklearn": SKLEARN_FILE, "onnx": ONNX_FILE, "lean": LEAN_FILE}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(out_dir: Path, *, artifacts: dict[str, bytes], manifest: dict[str, Any]) -> Path:
    """Write artifacts and a manifest listing their SHA-256; the manifest is written last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in RUNTIME_FILES.values():
        if stale not in artifacts and (out_dir / stale).exists():
            (out_dir / stale).unlink()  # an old artifact the new manifest does not vouch for
    files: dict[str, dict[str, Any]] = {}
    for name, data in sorted(artifacts.items()):
        (out_dir / name).write_bytes(data)
        files[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}
    manifest = {**manifest, "format": BUNDLE_FORMAT, "files": files}
    tmp = out_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / MANIFEST_NAME)
    return out_dir


def read_manifest(bundle_dir: Path | str) -> dict[str, Any]:
    """Read and sanity-check manifest.json (plain JSON: safe to read before any verification)."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST_NAME
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle directory {str(bundle_dir)!r} does not exist "
                          "(create one with `twinserve train` or `twinserve import`)")
    if not path.is_file():
        raise BundleIntegrityError(f"{path}: manifest.json is missing; this is not a twinserve bundle",
                                   file=MANIFEST_NAME)
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(f"{path}: format {found!r} is not {BUNDLE_FORMAT!r}")
    for key in ("name", "version", "classes", "input_schema", "files"):
        if key not in manifest:
            raise BundleError(f"{path}: required key {key!r} is missing")
    _check_shape(manifest, path)
    return manifest


def _check_shape(manifest: dict[str, Any], path: Path) -> None:
    """The manifest is the root of trust: every file it names must be a plain name inside the bundle,
    with a SHA-256 and a size, and it must offer at least one runtime's artifact."""
    classes = manifest["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise BundleError(f"{path}: classes must be a list of strings, got {json.dumps(classes)[:60]}")
    files = manifest["files"]
    if not isinstance(files, dict):
        raise BundleError(f"{path}: files must be an object of file name -> {{sha256, bytes}}")
    for name, entry in files.items():
        if not _plain_name(name):
            raise BundleIntegrityError(f"{path}: file name {name!r} is not a plain file name inside the bundle "
                                       "(no directories, no '..', no absolute paths)", file=str(name))
        if not isinstance(entry, dict) or not _is_sha256(entry.get("sha256")):
            raise BundleIntegrityError(f"{path}: {name} has no valid sha256 (64 hex digits)", file=name)
        size = entry.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BundleIntegrityError(f"{path}: {name} has no valid size in bytes", file=name)
    if not any(artifact in files for artifact in RUNTIME_FILES.values()):
        raise BundleError(f"{path}: lists no model artifact ({' or '.join(RUNTIME_FILES.values())}): "
                          "nothing a runtime could load")


def _plain_name(name: Any) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and not name.startswith("."))


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def manifest_schema(manifest: dict[str, Any]) -> InputSchema:
    return InputSchema.from_dict(manifest["input_schema"], where="manifest.input_schema")


# Bundles written before these fields existed hold classifiers fitted on arrays.
TASKS = ("classification", "regression")


def manifest_task(manifest: dict[str, Any]) -> str:
    """"classification" (label and class probabilities) or "regression" (a value per instance)."""
    task = manifest.get("task", "classification")
    if task not in TASKS:
        raise BundleError(f"manifest task {task!r} is not one of {', '.join(TASKS)}")
    return str(task)


def manifest_input_format(manifest: dict[str, Any]) -> str:
    """"array" (the pipeline was fitted on a numpy array) or "dataframe" (on a pandas DataFrame,
    whose column names and dtypes it expects again)."""
    return str(manifest.get("input_format", "array"))


def verify_file(bundle_dir: Path, manifest: dict[str, Any], name: str) -> bytes:
    """Return a file's bytes after checking them against the manifest; never returns unchecked bytes.

    A pickle runs code when it is loaded, so the hash is checked on the very bytes that are then
    deserialised (no second read that could see a different file).
    """
    entry = manifest["files"].get(name)
    if entry is None:
        raise BundleIntegrityError(f"{name}: not listed in {MANIFEST_NAME}", file=name)
    path = bundle_dir / name
    if not path.is_file():
        raise BundleIntegrityError(f"{name}: listed in {MANIFEST_NAME} but missing from {bundle_dir}", file=name)
    # Contained: a link that leads out of the bundle is refused before anything is read through it.
    if not path.resolve().is_relative_to(bundle_dir.resolve()):
        raise BundleIntegrityError(f"{name}: leads outside the bundle ({bundle_dir}); it is not read", file=name)
    # Sized: the manifest's size is checked before the file is read, so a huge or swapped file is
    # refused without reading it into memory.
    actual_bytes = path.stat().st_size
    if actual_bytes != entry["bytes"]:
        raise BundleIntegrityError(f"{name}: {actual_bytes:,} bytes, but the manifest says {entry['bytes']:,}; "
                                   "it is not read", file=name)
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != entry["sha256"]:
        raise BundleIntegrityError(
            f"{name}: SHA-256 {actual[:16]}… does not match the manifest's {entry['sha256'][:16]}…; "
            "the file was changed after the bundle was made, so it is not loaded",
            file=name,
        )
    return data


def verify_bundle(bundle_dir: Path | str, manifest: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Check every file the manifest lists; return their verified bytes by name."""
    bundle_dir = Path(bundle_dir)
    manifest = manifest or read_manifest(bundle_dir)
    return {name: verify_file(bundle_dir, manifest, name) for name in sorted(manifest["files"])}
