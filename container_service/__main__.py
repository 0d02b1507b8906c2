"""`python -m container_service`: the container's entrypoint, and exactly what `twinserve serve` runs."""

from __future__ import annotations

import os
import sys

# One worker per core, one request per worker at a time: BLAS/OpenMP thread pools inside a worker
# would only compete with the event loop (and with the other workers) for the same cores.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def main() -> None:
    for name, value in SINGLE_THREADED.items():
        os.environ.setdefault(name, value)
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:container_service.gunicorn_conf",
            "container_service.main:app"]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
