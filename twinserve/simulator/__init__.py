"""Traffic simulator: what each option's latency, cold starts, throttles and fleet do when traffic moves.

Two modes, one result type (`SimResult`):

- **exact** (`simulate_lambda_exact`, `simulate_fargate_exact`): every request, in arrival order.
  Lambda environments are reused most-recently-used first (as the local emulator's pool does),
  reclaimed after the keep-alive, created cold up to the concurrency limit and the scale-out rate,
  throttled beyond; Fargate tasks are FIFO queues of `workers` servers behind a round-robin load
  balancer, scaled by target tracking on one-minute metrics. For traces up to a few million requests.
- **aggregated** (`simulate_lambda_aggregated`, `simulate_fargate_aggregated`): bins of traffic
  (per second or per minute) and queueing theory per bin (Erlang B for throttles, Erlang C with the
  Allen-Cunneen correction for waits, a fluid backlog when a fleet is overloaded, and per-level
  environment survival for cold starts); latency percentiles from requests sampled across the bins.
  For long traces (a day at 1,000 req/s in a few seconds).

Libraries: numpy (and scipy.stats for Poisson tails) only. SimPy was considered: its processes and
events cost several Python generator switches per request, while both models here need no more
than arrival-ordered processing with a heap per pool, so the exact mode is a plain loop (about a
million requests in a few seconds) and the aggregated mode is vectorised numpy.

Every figure a simulation returns is modeled ("simulated"), from the inputs it lists.
"""

from twinserve.simulator.fargate_sim import FargateParams, simulate_fargate_aggregated, simulate_fargate_exact
from twinserve.simulator.lambda_sim import LambdaParams, simulate_lambda_aggregated, simulate_lambda_exact
from twinserve.simulator.result import SimResult
from twinserve.simulator.trace import arrivals_from_counts

__all__ = ["FargateParams", "LambdaParams", "SimResult", "arrivals_from_counts", "simulate_fargate_aggregated",
           "simulate_fargate_exact", "simulate_lambda_aggregated", "simulate_lambda_exact"]
