"""The harness's traffic for load beyond one machine: Locust in distributed mode (master + workers).

Same request as `twinserve bench` (one instance of the bundle's schema example, or the body in
TWINSERVE_REQUEST), and the same shapes:
- `warm` / `rate`: each user sends at `TWINSERVE_RATE_PER_USER` requests/s (constant throughput,
  open-loop per user); total rate = users × that;
- `saturation` (TWINSERVE_SHAPE=saturation): the user count grows ×1.5 every TWINSERVE_STEP_S seconds;
  read the p99 per step from Locust's stats history (--csv-full-history).

Run (the master aggregates; start one worker per core on each load machine):
  locust -f benchmarks/locustfile.py --master --headless -u 200 -r 50 -t 5m --expect-workers 4 \
      --host https://abc123.execute-api.us-east-1.amazonaws.com --csv results/locust
  locust -f benchmarks/locustfile.py --worker --master-host <master address>
Results are measured on AWS (or wherever --host points) by Locust, not by twinserve's harness.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, constant_throughput, task


def _body() -> bytes:
    if os.environ.get("TWINSERVE_REQUEST"):
        return Path(os.environ["TWINSERVE_REQUEST"]).read_bytes()
    import prediction_core

    bundle = os.environ.get("TWINSERVE_BUNDLE", "build/bundles/default")
    example = prediction_core.load(bundle, "onnx").schema.example_instance()
    return json.dumps({"instances": [example]}).encode()


BODY = _body().decode("utf-8")  # JSON text: FastHttpSession takes str bodies
RATE_PER_USER = float(os.environ.get("TWINSERVE_RATE_PER_USER", "1"))


class PredictUser(FastHttpUser):
    wait_time = constant_throughput(RATE_PER_USER)

    @task
    def predict(self) -> None:
        with self.client.post("/predict", data=BODY, headers={"content-type": "application/json"},
                              catch_response=True) as response:
            if response.status_code == 429:
                response.failure("throttled (429)")
            elif response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


if os.environ.get("TWINSERVE_SHAPE") == "saturation":

    class SaturationShape(LoadTestShape):
        """Users ×1.5 per step, like the harness's saturation scenario."""

        start_users = int(os.environ.get("TWINSERVE_START_USERS", "10"))
        step_s = float(os.environ.get("TWINSERVE_STEP_S", "60"))
        steps = int(os.environ.get("TWINSERVE_STEPS", "10"))

        def tick(self) -> Any:
            step = int(self.get_run_time() // self.step_s)
            if step >= self.steps:
                return None
            users = int(self.start_users * 1.5**step)
            return users, max(1, users)
