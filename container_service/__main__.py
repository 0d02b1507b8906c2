"""`python -m container_service`: the container's entrypoint, and exactly what `twinserve serve` runs."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:container_service.gunicorn_conf",
            "container_service.main:app"]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
