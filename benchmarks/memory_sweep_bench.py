"""Does CPU follow memory in the emulator as on Lambda? A CPU-bound handler's warm duration at
512 MB against 1,769 MB (one vCPU): AWS's proportional allocation makes it 1769/512 = 3.46x.

    python -m benchmarks.memory_sweep_bench [--rounds 5] [--warm 5]

Prints, per round, the median warm REPORT duration at each size and their ratio, then the median
ratio against the target (3.46 ± 25%). Sizes are measured in turns, so a slow spell on this shared
machine falls on both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

HANDLER = '''
import json, os

def handler(event, context):
    total = 0
    for i in range(int(os.environ.get("CPU_WORK_ITERATIONS", "6000000"))):
        total += i * i
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"t": total % 7})}
'''
TARGET = 1769 / 512


def main() -> None:
    import io

    from rich.console import Console

    from benchmarks.harness.context import Options
    from benchmarks.harness.runner import run_bench
    from benchmarks.harness.targets import LocalLambdaTarget

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm", type=int, default=5)
    args = parser.parse_args()
    code = Path(tempfile.mkdtemp(prefix="cpu-bound-"))
    (code / "cpu.py").write_text(HANDLER)
    ratios = []
    for round_ in range(args.rounds):
        out = Path(tempfile.mkdtemp(prefix="sweep-"))
        target = LocalLambdaTarget(package=code, handler="cpu.handler", timeout_s=120, name="local-lambda")
        options = Options(sweep_memory_mb=(1769, 512) if round_ % 2 else (512, 1769), sweep_cold_starts=1,
                          sweep_warm_requests=args.warm)
        run_bench([target], ["memory-sweep"], out, options=options, example={}, console=Console(file=io.StringIO()))
        by = json.loads((out / "state.json").read_text())["completed"]["local-lambda/memory-sweep"]["findings"][
            "by_memory"]
        ratio = by["512"]["duration_p50_ms"] / by["1769"]["duration_p50_ms"]
        ratios.append(ratio)
        print(f"round {round_ + 1}: 512 MB {by['512']['duration_p50_ms']:.0f} ms, 1769 MB "
              f"{by['1769']['duration_p50_ms']:.0f} ms, ratio {ratio:.2f} (measured here; {by['512']['cpu']})")
    median = statistics.median(ratios)
    verdict = "met" if TARGET * 0.75 <= median <= TARGET * 1.25 else "MISSED"
    print(f"median ratio {median:.2f} over {args.rounds} rounds; target {TARGET:.2f} ± 25%: {verdict}")


if __name__ == "__main__":
    main()
