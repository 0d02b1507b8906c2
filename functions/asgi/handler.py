"""ASGI Lambda door: the container's very ASGI app (FastAPI + the /predict hot path), through Mangum.

lifespan="off": Mangum would run the lifespan on every invocation, so the model is loaded at
INIT when the app is built (module scope), never per request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mangum import Mangum

from container_service.main import build_asgi
from container_service.settings import Settings
from functions import events
from prediction_core import contract

_DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent.parent / "model"
settings = Settings(bundle=Path(os.environ.get("MODEL_BUNDLE", _DEFAULT_BUNDLE)))
app = build_asgi(settings)
_mangum = Mangum(app, lifespan="off")


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Mangum, behind the same event check as the native door: an event neither can read gets the
    contract's 400 from both."""
    problem = events.shape_problem(event)
    if problem is not None:
        return events.unsupported(problem)
    bad_base64 = events.base64_problem(event)
    if bad_base64 is not None:
        rid = contract.new_request_id(events.header(event, contract.REQUEST_ID_HEADER)
                                      or getattr(context, "aws_request_id", None))
        return events.malformed_base64(bad_base64, rid)
    response: dict[str, Any] = _mangum(events.for_asgi(event), context)
    if "elb" in (event.get("requestContext") or {}):  # an ALB response carries its status line
        response["statusDescription"] = events.alb_status_description(int(response["statusCode"]))
    return response
