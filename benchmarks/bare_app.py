"""The baseline for service_bench: a bare Starlette endpoint returning a constant JSON body."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (b'{"predictions":[{"label":"benign","probabilities":{"benign":0.9,"malignant":0.1}}],'
        b'"model":{"name":"bare","version":"0","runtime":"none"}}')


async def predict(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
