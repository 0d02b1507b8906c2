"""ASGI Lambda door: the container's very ASGI app (FastAPI + the /predict hot path), through Mangum.

lifespan="off": Mangum would run the lifespan on every invocation, so the model is loaded at
INIT when the app is built (module scope), never per request.
"""

from __future__ import annotations

import os
from pathlib import Path

from mangum import Mangum

from container_service.main import build_asgi
from container_service.settings import Settings

_DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent.parent / "model"
settings = Settings(bundle=Path(os.environ.get("MODEL_BUNDLE", _DEFAULT_BUNDLE)))
app = build_asgi(settings)
handler = Mangum(app, lifespan="off")
