"""Builds the FastAPI app: settings, the model (loaded once here), routers, error handlers."""

from __future__ import annotations

import gc
import logging
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from container_service.model import load_predictor
from container_service.openapi import predict_operation
from container_service.routers import health
from container_service.routers.common import request_id, respond
from container_service.routers.predict import HotPath, PredictEndpoint
from container_service.settings import Settings, get_settings
from prediction_core import Predictor, contract

logger = logging.getLogger("twinserve.service")


def create_app(settings: Settings | None = None, predictor: Predictor | None = None) -> FastAPI:
    settings = settings or get_settings()
    predictor = predictor or load_predictor(settings)
    app = FastAPI(title=f"twinserve: {predictor.name}", version=predictor.version,
                  description="Predictions from one twinserve model bundle; the same contract as the Lambda doors.")
    app.state.settings = settings
    app.state.predictor = predictor
    app.router.redirect_slashes = False  # "/predict/" is a 404 here as it is on API Gateway
    app.include_router(health.router)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # The request body is read raw (see routers/predict.py), so its schema is merged in here,
        # built from the loaded model's input schema.
        if app.openapi_schema is None:
            spec = default_openapi()
            spec["paths"]["/predict"] = {"post": predict_operation(predictor, settings.max_body_bytes)}
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            # scope["path"], not request.url: building the URL parses the Host header (`Host: [` raised).
            result = contract.handle_unmatched(request.method, request.scope["path"])
        else:
            result = contract.error_result(exc.status_code, "http_error", str(exc.detail))
        return respond(result, request_id(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return respond(contract.internal_error(request_id(request)), request_id(request))

    logger.info("model %s %s loaded (%s runtime) in %.1f ms", predictor.name, predictor.version,
                predictor.runtime, predictor.timings.total_ms)
    return app


def build_asgi(settings: Settings | None = None, predictor: Predictor | None = None) -> HotPath:
    """The served ASGI app: the FastAPI app with POST /predict answered by the hot-path endpoint."""
    app = create_app(settings, predictor)
    endpoint = PredictEndpoint(app.state.predictor, max_body_bytes=app.state.settings.max_body_bytes)
    # Everything allocated so far (modules, the model) lives as long as the process: move it out
    # of the collector's reach so per-request garbage collections stay cheap.
    gc.freeze()
    return HotPath(app, endpoint)


def __getattr__(name: str) -> HotPath:
    # `container_service.main:app` for gunicorn, built on first access so that importing this module
    # (tests, the Lambda ASGI door with its own settings) does not load a model by itself.
    if name == "app":
        built = build_asgi()
        globals()["app"] = built
        return built
    raise AttributeError(name)
