"""Lambda doors: the Powertools handler (predict/) and the FastAPI app through Mangum (asgi/).

One invocation per execution environment, and at most 1 vCPU up to 1,769 MB: a BLAS/OpenMP thread
pool only adds INIT time (OpenBLAS starts one thread per visible core when numpy is imported, about
25 ms here) and competes with the request for the same core. So both doors pin them to one thread
unless the function's configuration says otherwise; this runs before either door imports numpy.
The container does the same in its entrypoint (container_service/__main__.py).
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
