"""The emulator's errors, inside the project's exception hierarchy (TwinserveError), so the CLI
prints them as one line with exit code 2 like every other user error."""

from __future__ import annotations

from prediction_core.exceptions import TwinserveError


class EmulatorError(TwinserveError):
    """Something in the local Lambda emulator went wrong."""

    error_type = "emulator_error"


class ConfigError(EmulatorError, ValueError):
    """An emulator setting is outside what Lambda accepts."""

    error_type = "emulator_config_error"


class InitError(EmulatorError):
    """The runtime reported an INIT failure (POST /runtime/init/error) or exited during INIT."""

    error_type = "init_error"

    def __init__(self, error_type: str, body: bytes) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.body = body
