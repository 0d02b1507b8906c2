"""POST /predict. Reads the raw body and lets the shared contract validate it: no pydantic model
per request (the core's validation is vectorised), no threadpool hop (the predict is sub-millisecond)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from container_service.routers.common import predictor, request_id, respond
from prediction_core import contract

router = APIRouter()


async def read_body_capped(request: Request, limit: int) -> tuple[bytes, int]:
    """Body bytes and its size; stops reading past the limit so a huge body is never held in memory."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return b"", int(declared)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"", size
        chunks.append(chunk)
    return b"".join(chunks), size


@router.post("/predict", name="predict")
async def predict(request: Request) -> Response:
    rid = request_id(request)
    limit = request.app.state.settings.max_body_bytes
    body, size = await read_body_capped(request, limit)
    if size > limit:
        result = contract.payload_too_large(size, limit)
    else:
        result = contract.handle_predict(predictor(request), body=body,
                                         content_type=request.headers.get("content-type"),
                                         request_id=rid, max_body_bytes=limit)
    return respond(result, rid)
