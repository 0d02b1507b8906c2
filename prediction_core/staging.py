"""Write a directory whole or not at all: built beside its destination, moved in when complete.

Used for model bundles (training and import) and for deployment packages; not imported at a
Lambda cold start."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A directory beside `out` that replaces it only if the block completes: a failure (a missing
    input, a check that refuses, an interrupt) leaves the previous `out` as it was. The previous
    one is set aside first and removed last."""
    out = Path(out)
    stage = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            os.replace(out, old)
        os.replace(stage, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
