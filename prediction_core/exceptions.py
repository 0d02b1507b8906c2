"""Errors raised by the prediction core. Every door maps them to one error shape."""

from __future__ import annotations

from typing import Any


class TwinserveError(Exception):
    """Base class for every error the core raises on purpose."""

    error_type = "twinserve_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class RecipeError(TwinserveError):
    """A recipe name, parameter or training-data file is not acceptable."""

    error_type = "recipe_error"


class SchemaError(TwinserveError):
    """An input-schema file or mapping is malformed."""

    error_type = "schema_error"


class BundleError(TwinserveError):
    """A model bundle is missing, incomplete or of an unknown format."""

    error_type = "bundle_error"


class BundleIntegrityError(BundleError):
    """A bundle file is missing or its SHA-256 differs from the manifest: it is never unpickled."""

    error_type = "bundle_integrity_error"

    def __init__(self, message: str, *, file: str) -> None:
        super().__init__(message, details=[{"file": file}])
        self.file = file


class RuntimeNotAvailableError(BundleError):
    """The bundle has no artifact for the requested runtime, or the runtime name is unknown."""

    error_type = "runtime_not_available"


class InvalidInstancesError(TwinserveError):
    """One or more instances do not match the model's input schema."""

    error_type = "validation_error"
