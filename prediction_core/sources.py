"""Where a door gets its bundle: a local directory, or an s3:// prefix copied to local disk first.

The S3 client is passed in by the door (boto3 on Lambda and in the container), so the core itself
imports no AWS library. Files are verified by `load` after download, exactly as local ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

from prediction_core.bundle import MANIFEST_NAME, RUNTIME_FILES, sha256_file
from prediction_core.exceptions import BundleError
from prediction_core.predictor import Predictor, load


class S3Client(Protocol):
    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...

    def download_file(self, Bucket: str, Key: str, Filename: str) -> None: ...


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BundleError(f"MODEL_URI {uri!r} is not of the form s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise BundleError(f"MODEL_URI {uri!r} has no bucket name")
    return bucket, prefix.strip("/")


def fetch_s3_bundle(uri: str, dest_root: Path, client: S3Client, *, runtime: str) -> Path:
    """Copy manifest.json and the runtime's artifact from s3://bucket/prefix to dest_root.

    The local folder is named after the manifest's SHA-256, so a changed model never reuses a
    stale copy, and an unchanged one is not downloaded twice in the same environment.
    """
    bucket, prefix = split_s3_uri(uri)
    key = f"{prefix}/{MANIFEST_NAME}" if prefix else MANIFEST_NAME
    try:
        manifest_bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore raises ClientError and friends; the message says which
        raise BundleError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    dest = dest_root / hashlib.sha256(manifest_bytes).hexdigest()[:16]
    dest.mkdir(parents=True, exist_ok=True)
    try:
        manifest = json.loads(manifest_bytes)
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"s3://{bucket}/{key} is not a twinserve manifest ({exc})") from exc
    wanted = RUNTIME_FILES.get(runtime)
    for name in files:
        if name != wanted:
            continue
        expected = _expected_sha256(files, name)
        if (dest / name).is_file() and sha256_file(dest / name) == expected:
            continue  # already here, and whole
        file_key = f"{prefix}/{name}" if prefix else name
        # Downloaded under a temporary name, checked, then renamed: a partial or bad download never
        # sits under the real name, where every later start in this environment would trust it.
        # A mismatch is fetched once more (the object may have been repaired meanwhile); a
        # second mismatch is left for `load` to refuse, naming the file.
        for _attempt in range(2):
            _download_checked(client, bucket, file_key, dest / name)
            if sha256_file(dest / name) == expected:
                break
    (dest / MANIFEST_NAME).write_bytes(manifest_bytes)
    return dest


def _expected_sha256(files: Any, name: str) -> str | None:
    entry = files.get(name) if isinstance(files, dict) else None
    return entry.get("sha256") if isinstance(entry, dict) else None


def _download_checked(client: S3Client, bucket: str, key: str, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        client.download_file(bucket, key, str(partial))
        os.replace(partial, target)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise BundleError(f"cannot download s3://{bucket}/{key}: {exc}") from exc


def load_configured(*, bundle: Path | str | None, model_uri: str | None, runtime: str,
                    s3_client_factory: Any = None, download_dir: Path = Path("/tmp/twinserve-model"),
                    warmup: bool = True) -> Predictor:
    """Load the bundle a door is configured with: MODEL_URI (S3) wins over a local MODEL_BUNDLE."""
    if model_uri:
        if s3_client_factory is None:
            raise BundleError("MODEL_URI is set but this door has no S3 client")
        bundle = fetch_s3_bundle(model_uri, download_dir, s3_client_factory(), runtime=runtime)
    if bundle is None:
        raise BundleError("no model configured: set MODEL_BUNDLE (a directory) or MODEL_URI (s3://…)")
    return load(bundle, runtime, warmup=warmup)
