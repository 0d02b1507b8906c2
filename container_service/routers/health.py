"""GET /health (load balancer health check) and GET /model (manifest summary)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from container_service.routers.common import predictor, request_id, respond
from prediction_core import contract

router = APIRouter()


@router.get("/health", name="health")
async def health(request: Request) -> Response:
    return respond(contract.handle_health(predictor(request)), request_id(request))


@router.get("/model", name="model")
async def model(request: Request) -> Response:
    return respond(contract.handle_model(predictor(request)), request_id(request))
