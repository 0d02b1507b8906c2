"""POST /predict as a raw ASGI endpoint placed in front of the FastAPI app.

Why not a FastAPI route: under wrk, FastAPI's per-request machinery (dependency solving, route
matching past the docs routes, exception and exit-stack middleware, a telemetry check that reads
the environment) cost more than a whole single-row ONNX prediction (benchmarks/service_bench.py).
So the hot route is served here: read the body (capped at the payload limit), let the shared
contract answer, send. Everything else, including 405 for GET /predict, goes to FastAPI.
No pydantic per request (the core validates, vectorised) and no threadpool hop (predict is
sub-millisecond; the event loop would only wait for a thread).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from prediction_core import Predictor, contract

Scope = MutableMapping[str, Any]
PATH = "/predict"
_JSON = (b"content-type", b"application/json")


class PredictEndpoint:
    def __init__(self, predictor: Predictor, *, max_body_bytes: int) -> None:
        self.predictor = predictor
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        content_type = declared = incoming_id = None
        for name, value in scope["headers"]:  # ASGI header names are lower-case bytes
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
            elif name == b"x-request-id":
                incoming_id = value.decode("latin-1")
        aws_context = scope.get("aws.context")  # set by Mangum on Lambda
        rid = contract.new_request_id(incoming_id or getattr(aws_context, "aws_request_id", None))
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            result = contract.payload_too_large(int(declared), limit)
        else:
            body, size = await _read_body(receive, limit)
            result = (contract.payload_too_large(size, limit) if size > limit else
                      contract.handle_predict(self.predictor, body=body, content_type=content_type,
                                              request_id=rid, max_body_bytes=limit))
        payload = result.encoded()
        # An exact Content-Length: without it the server falls back to chunked encoding.
        headers = [_JSON, (b"content-length", str(len(payload)).encode()), (b"x-request-id", rid.encode("latin-1"))]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers.items()]
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Any, limit: int) -> tuple[bytes, int]:
    """The request body, or (b"", size so far) once it passes the limit: never held past the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), size
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", size
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), size


class HotPath:
    """ASGI wrapper: POST /predict to the endpoint above, everything else to the FastAPI app."""

    def __init__(self, app: Any, endpoint: PredictEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)
