"""The emulated /var/runtime: awslambdaric and what Lambda's Python runtime ships (boto3), linked
from this interpreter's site-packages into one folder.

Environments run with `python -S` and PYTHONPATH = package:runtime layer, so the function sees its
package plus the runtime, and nothing else installed here: a dependency missing from the package
fails locally as it would on AWS.
"""

from __future__ import annotations

import contextlib
import sys
from importlib import metadata
from pathlib import Path

# What the managed Python runtime provides besides the function's package.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py", "boto3", "botocore", "s3transfer",
                         "jmespath", "python-dateutil", "six", "urllib3")


def _top_level_entries(dist: metadata.Distribution) -> set[str]:
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in {"..", "__pycache__", "bin"}:
            continue
        names.add(first)
    return names


def build_runtime_layer(dest: Path) -> Path:
    """Create (or refresh) the layer folder of symlinks; returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name == "awslambdaric":
                raise
            continue
        base = Path(str(dist.locate_file("")))
        for entry in _top_level_entries(dist):
            link = dest / entry
            target = base / entry
            if not target.exists():
                continue
            if link.is_symlink() or link.exists():
                if link.is_symlink() and link.resolve() == target.resolve():
                    continue
                with contextlib.suppress(OSError):
                    link.unlink()
            link.symlink_to(target)
    return dest


def default_layer_dir() -> Path:
    version = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return Path.home() / ".cache" / "twinserve" / "lambda-runtime" / version
