"""Service settings: one BaseSettings class behind a cached getter (explicit > environment > default)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from prediction_core.contract import DEFAULT_MAX_BODY_BYTES


class Settings(BaseSettings):
    """Read from TWINSERVE_* environment variables; MODEL_BUNDLE / MODEL_URI / MODEL_RUNTIME work too,
    so the container and the Lambda functions are configured with the same names."""

    model_config = SettingsConfigDict(env_prefix="TWINSERVE_", populate_by_name=True)

    bundle: Path | None = Field(default=None, validation_alias="MODEL_BUNDLE")
    model_uri: str | None = Field(default=None, validation_alias="MODEL_URI")
    runtime: Literal["onnx", "sklearn", "lean"] = Field(default="onnx", validation_alias="MODEL_RUNTIME")
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=0, ge=0, description="0 = one per CPU")
    graceful_timeout_s: int = Field(default=30, ge=1)
    download_dir: Path = Path("/tmp/twinserve-model")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
