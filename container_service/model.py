"""The predictor, loaded once per process (at app creation: never per request, never in a lifespan,
which Mangum would run on every Lambda invocation)."""

from __future__ import annotations

from typing import Any

from container_service.settings import Settings
from prediction_core import Predictor
from prediction_core.sources import load_configured


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def load_predictor(settings: Settings) -> Predictor:
    return load_configured(bundle=settings.bundle, model_uri=settings.model_uri, runtime=settings.runtime,
                           s3_client_factory=_s3_client, download_dir=settings.download_dir)
