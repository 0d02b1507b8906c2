"""Turning a contract result into a Starlette response, with the request id on every response."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from prediction_core import Predictor, contract


def request_id(request: Request) -> str:
    aws_context = request.scope.get("aws.context")  # set by Mangum on Lambda
    incoming = request.headers.get(contract.REQUEST_ID_HEADER) or getattr(aws_context, "aws_request_id", None)
    return contract.new_request_id(incoming)


def respond(result: contract.HttpResult, rid: str) -> Response:
    return Response(content=result.encoded(), status_code=result.status, media_type="application/json",
                    headers={**result.headers, contract.REQUEST_ID_HEADER: rid})


def predictor(request: Request) -> Predictor:
    found: Predictor = request.app.state.predictor
    return found
