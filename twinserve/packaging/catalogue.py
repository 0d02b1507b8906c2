"""What each deployable piece is made of: doors, runtimes, their requirements, code and handlers.

Third-party requirements are read from pyproject.toml's extras (`core`, `runtime-<name>`,
`door-<name>`), the one place they are declared; the packager pins them to the versions
installed here.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal, TypeAlias

ROOT = Path(__file__).resolve().parents[2]

Door: TypeAlias = Literal["native", "asgi", "service"]
LambdaDoor: TypeAlias = Literal["native", "asgi"]
Runtime: TypeAlias = Literal["onnx", "sklearn", "lean"]
Arch: TypeAlias = Literal["x86_64", "arm64"]
BuildTarget: TypeAlias = Literal["aws", "local"]
PackageFormat: TypeAlias = Literal["zip", "image"]

RUNTIMES: tuple[Runtime, ...] = ("onnx", "sklearn", "lean")
LAMBDA_DOORS: tuple[LambdaDoor, ...] = ("native", "asgi")
ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")
BUILD_TARGETS: tuple[BuildTarget, ...] = ("aws", "local")
FORMATS: tuple[PackageFormat, ...] = ("zip", "image")

# Project code each door needs, relative to the repository root (training modules stay out).
DOOR_CODE: dict[Door, list[str]] = {
    "native": ["prediction_core", "functions/__init__.py", "functions/events.py", "functions/predict"],
    "asgi": ["prediction_core", "container_service", "functions/__init__.py", "functions/events.py",
             "functions/asgi"],
    "service": ["prediction_core", "container_service"],
}
DOOR_HANDLERS: dict[LambdaDoor, str] = {"native": "functions.predict.handler.handler",
                                        "asgi": "functions.asgi.handler.handler"}
TRAINING_ONLY = {"training.py", "recipes.py", "onnx_export.py", "lean_export.py", "export_check.py"}
# pip --platform tags Lambda's Python 3.12 (Amazon Linux 2023, glibc 2.34) can load, newest first.
_MACHINES: dict[Arch, str] = {"x86_64": "x86_64", "arm64": "aarch64"}
PLATFORM_TAGS: dict[Arch, list[str]] = {
    arch: [f"manylinux_2_34_{m}", f"manylinux_2_28_{m}", f"manylinux_2_17_{m}", f"manylinux2014_{m}"]
    for arch, m in _MACHINES.items()}
LAMBDA_PYTHON_VERSION = "3.12"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@cache
def _extras() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {name: list(reqs) for name, reqs in data["project"]["optional-dependencies"].items()}


def extra_names(extra: str) -> list[str]:
    """Distribution names in one pyproject extra, without versions or extras of their own."""
    names = []
    for requirement in _extras()[extra]:
        match = _NAME.match(requirement)
        if match and match.group(0) != "twinserve":
            names.append(match.group(0))
    return names


def requirement_names(door: Door, runtime: Runtime, *, dataframe: bool = False) -> list[str]:
    """What a package for this door and runtime installs, in a stable order without repeats; a
    scikit-learn pipeline fitted on a DataFrame is called with one again, so it also needs pandas."""
    names = extra_names("core") + extra_names(f"runtime-{runtime}") + extra_names(f"door-{door}")
    if dataframe and runtime == "sklearn":
        names += extra_names("runtime-dataframe")
    return list(dict.fromkeys(names))
