"""Build what gets deployed: Lambda zips and image contexts, the container context, local packages.

- catalogue.py: doors, runtimes, architectures and what each needs (from pyproject's extras);
- build.py: the builders (code, model, pinned wheels, bytecode, reproducible zip, size limits);
- report.py: package-report.json, written by a build and read by everything else through here;
- cache.py: local packages for the emulator, rebuilt only when stale.
"""

from __future__ import annotations

from twinserve.packaging.build import (
    PackagingError,
    build_container_context,
    build_lambda,
    code_fingerprint,
    copy_bundle,
    pinned_requirements,
)
from twinserve.packaging.cache import copy_package_with_model, ensure_local_package, local_package_is_fresh
from twinserve.packaging.catalogue import DOOR_HANDLERS, Door, Runtime
from twinserve.packaging.report import REPORT_NAME, PackageReport, read_package_report

__all__ = [
    "DOOR_HANDLERS",
    "REPORT_NAME",
    "Door",
    "PackageReport",
    "PackagingError",
    "Runtime",
    "build_container_context",
    "build_lambda",
    "code_fingerprint",
    "copy_bundle",
    "copy_package_with_model",
    "ensure_local_package",
    "local_package_is_fresh",
    "pinned_requirements",
    "read_package_report",
]
