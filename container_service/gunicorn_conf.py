"""gunicorn configuration, read from the same Settings as the app."""

from __future__ import annotations

import os

from container_service.settings import get_settings

_settings = get_settings()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers or os.cpu_count() or 1
worker_class = "uvicorn_worker.UvicornWorker"
# Each worker loads its own model after fork: onnxruntime sessions are not fork-safe.
preload_app = False
graceful_timeout = _settings.graceful_timeout_s
timeout = 60
# Longer than the ALB's 60 s idle timeout, so the load balancer closes idle connections first
# (otherwise it can reuse one the server just closed and answer 502).
keepalive = 75
accesslog = None  # access logging off the hot path; the ALB keeps its own access logs
errorlog = "-"
loglevel = os.environ.get("TWINSERVE_LOG_LEVEL", "info")
