"""Core benchmark: cold path and predict latency per runtime and recipe, each in fresh processes.

Prints medians (source: measured here) and the ratio ONNX / scikit-learn from the same run.
Run: `python -m benchmarks.core_bench` (full) or `--quick` (what `make demo` runs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.stats import median, percentile

BUNDLE_CACHE = Path("build/bench-bundles")

# Runs in a fresh interpreter so imports are really cold. Prints one JSON line.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import prediction_core
core_import_ms = (time.perf_counter() - t0) * 1000
bundle, runtime, inst_path, single_reps, batch_reps = sys.argv[1:6]
instances = json.load(open(inst_path))
p = prediction_core.load(bundle, runtime)
p.predict(instances[:1])
t = p.timings
single = []
for i in range(int(single_reps)):
    row = [instances[i % len(instances)]]
    s = time.perf_counter(); p.predict(row); single.append((time.perf_counter() - s) * 1000)
batch_rows = (instances * (1000 // len(instances) + 1))[:1000]
batch = []
for _ in range(int(batch_reps)):
    s = time.perf_counter(); p.predict(batch_rows); batch.append((time.perf_counter() - s) * 1000)
print(json.dumps({"core_import_ms": core_import_ms, **t.as_dict(), "single_ms": single, "batch_ms": batch,
                  "sklearn_imported": "sklearn" in sys.modules}))
"""


@dataclass(frozen=True)
class Case:
    recipe: str
    trees: int | None = None

    @property
    def label(self) -> str:
        short = self.recipe.removeprefix("breast-cancer-")
        return short + (f"-{self.trees}" if self.trees else "")

    @property
    def slug(self) -> str:
        return self.recipe + (f"-{self.trees}" if self.trees else "")


FULL = [Case("breast-cancer-logreg"), Case("breast-cancer-forest", 10), Case("breast-cancer-forest", 100),
        Case("breast-cancer-forest", 500)]
QUICK = [Case("breast-cancer-logreg"), Case("breast-cancer-forest", 100)]


def ensure_bundle(case: Case) -> tuple[Path, list[dict[str, float]]]:
    from prediction_core.recipes import get_recipe, resolve_params
    from prediction_core.training import train

    out = BUNDLE_CACHE / case.slug
    params = {"trees": case.trees} if case.trees else {}
    if not (out / "manifest.json").is_file():
        train(case.recipe, out=out, params=params)
    recipe = get_recipe(case.recipe)
    instances = recipe.dataset(resolve_params(recipe, params), 0).test_instances()
    return out, instances


def run_child(bundle: Path, runtime: str, inst_file: Path, single: int, batch: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(bundle), runtime, str(inst_file), str(single),
                           str(batch)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed for {bundle} {runtime}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two models, fewer processes (for make demo)")
    parser.add_argument("--processes", type=int, default=None, help="fresh processes per cell")
    args = parser.parse_args()
    cases = QUICK if args.quick else FULL
    procs = args.processes or (3 if args.quick else 5)
    single_reps, batch_reps = (200, 10) if args.quick else (500, 30)
    console = Console(width=max(Console().width, 130))
    table = Table(title="prediction core, measured here (medians over fresh processes)")
    for col in ("model", "runtime", "imports ms", "load ms", "1st predict ms", "cold total ms",
                "1-row p50 ms", "1-row p99 ms", "1000-row p50 ms"):
        table.add_column(col, justify="right" if "ms" in col else "left")
    ratios = Table(title="ratio ONNX / scikit-learn (same run; < 1 means ONNX is faster)")
    for col in ("model", "cold total", "1-row p50", "1000-row p50"):
        ratios.add_column(col, justify="right" if col != "model" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            with console.status(f"preparing {case.label}…"):
                bundle, instances = ensure_bundle(case)
            inst_file = Path(tmp) / f"{case.slug}.json"
            inst_file.write_text(json.dumps(instances))
            cells = {}
            for runtime in ("sklearn", "onnx"):
                with console.status(f"{case.label} / {runtime}: {procs} fresh processes…"):
                    runs = [run_child(bundle, runtime, inst_file, single_reps, batch_reps) for _ in range(procs)]
                if runtime == "onnx" and any(r["sklearn_imported"] for r in runs):
                    raise SystemExit("the ONNX runtime imported scikit-learn: the lazy-import rule is broken")
                imports = median([r["core_import_ms"] + r["runtime_import_ms"] for r in runs])
                load = median([r["verify_ms"] + r["model_load_ms"] for r in runs])
                first = median([r["first_predict_ms"] for r in runs])
                single = [x for r in runs for x in r["single_ms"]]
                batch = [x for r in runs for x in r["batch_ms"]]
                cell = {"cold": imports + load + first, "p50": percentile(single, 50),
                        "batch": percentile(batch, 50)}
                cells[runtime] = cell
                table.add_row(case.label, runtime, f"{imports:.1f}", f"{load:.2f}", f"{first:.2f}",
                              f"{cell['cold']:.1f}", f"{cell['p50']:.3f}", f"{percentile(single, 99):.3f}",
                              f"{cell['batch']:.2f}")
            s, o = cells["sklearn"], cells["onnx"]
            ratios.add_row(case.label, f"{o['cold'] / s['cold']:.2f}", f"{o['p50'] / s['p50']:.2f}",
                           f"{o['batch'] / s['batch']:.2f}")
    console.print(table)
    console.print(ratios)
    console.print("source: measured here, this machine, one run; cold total = imports + verify/load + "
                  "first predict, in a fresh interpreter (interpreter start itself excluded).")


if __name__ == "__main__":
    main()
