"""Is the load generator the bottleneck? The container service's maximum rate measured with our
generator and with wrk, alternating, in the same run (source: measured here). Target: ≥ 0.8 of wrk.
Run: `python -m benchmarks.harness_bench [--bundle DIR] [--seconds 5] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from benchmarks.harness.loadgen import Client, closed_loop, encode_request, new_event_loop
from benchmarks.service_bench import LUA, free_port, run_wrk, start, stop
from benchmarks.stats import median


def ours(port: int, body: bytes, seconds: int, connections: int) -> float:
    loop = new_event_loop()
    try:
        client = Client("127.0.0.1", port, connections=connections)
        request = encode_request("POST", "/predict", body)
        replies = loop.run_until_complete(closed_loop(client, request, concurrency=connections, duration_s=seconds))
        client.close()
    finally:
        loop.close()
    ok = sum(1 for r in replies if r.status == 200)
    if ok != len(replies):
        raise SystemExit(f"{len(replies) - ok} non-200 replies from the service")
    return len(replies) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundle", type=Path, default=Path("build/bundles/default"))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`")
    import prediction_core

    example = prediction_core.load(args.bundle, "sklearn").schema.example_instance()
    body = json.dumps({"instances": [example]}).encode()
    console = Console()
    port = free_port()
    proc = start("container_service", port, args.workers, {"MODEL_BUNDLE": str(args.bundle), "MODEL_RUNTIME": "onnx"})
    wrk_rates, our_rates = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "post.lua"
            script.write_text(LUA.format(body=body.decode()))
            for i in range(args.rounds):
                with console.status(f"round {i + 1}/{args.rounds}: wrk…"):
                    wrk_rates.append(run_wrk(port, script, args.seconds, args.connections).rps)
                with console.status(f"round {i + 1}/{args.rounds}: twinserve load generator…"):
                    our_rates.append(ours(port, body, args.seconds, args.connections))
    finally:
        stop(proc)
    w, o = median(wrk_rates), median(our_rates)
    console.print(f"container service (onnx, {args.workers} worker), {args.connections} connections, "
                  f"{args.rounds}×{args.seconds}s, medians, measured here:\n"
                  f"  wrk                      {w:10,.0f} req/s\n  twinserve load generator {o:10,.0f} req/s\n"
                  f"  ratio ours / wrk         {o / w:10.2f}  (target ≥ 0.80: {'meets' if o / w >= 0.8 else 'misses'})")


if __name__ == "__main__":
    main()
