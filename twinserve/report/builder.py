"""`twinserve report results/<id>`: report.html (self-contained), report.md, cost.csv, cost.json.

Every figure and table says whether it is measured here, measured on AWS, or modeled, and from
which inputs.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from cost_model.compare import compare, simulation_key, sweep_constant_rates
from cost_model.from_results import inputs_from_results
from cost_model.options import parse_option
from cost_model.power_tuning import tune_memory
from cost_model.prices import load_prices
from cost_model.traffic import PROFILES, profile_rates
from prediction_core.aws_limits import LAMBDA
from twinserve.packaging import read_package_report
from twinserve.report import charts
from twinserve.report.aws_estimate import estimates
from twinserve.simulator.options import samples_from_records, simulate_options

PACKAGE_LIMIT_MB = LAMBDA.unzipped_package_bytes // 2**20
TUNING_PROFILE = "diurnal"  # the traffic the report's memory recommendation is made for
SOURCES = {"measured-local": "measured here (this machine, local emulator / container process)",
           "measured-aws": "measured on AWS", "modeled": "modeled from the inputs listed"}


def _records(results: Path) -> list[dict[str, Any]]:
    raw = results / "raw.jsonl"
    return [json.loads(line) for line in raw.read_text().splitlines() if line] if raw.is_file() else []


def _latency_series(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    for r in records:
        if r["status"] != 200:
            continue
        if r["scenario"] == "warm":
            series.setdefault(f"{r['target']} warm", []).append(r["latency_ms"])
        elif r["scenario"] == "cold-start":
            series.setdefault(f"{r['target']} cold", []).append(r["latency_ms"])
    return series


def _package_rows(root: Path = Path("build/lambda")) -> list[dict[str, Any]]:
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        data = read_package_report(folder)
        if data is None or data.get("target") != "aws" or not data.get("zipped_bytes"):
            continue
        rows.append({"variant": f"{data['door']}/{data['runtime']} {data['arch']} py{data['python_version']}",
                     "unzipped_mb": data["unzipped_bytes"] / 2**20, "zipped_mb": data["zipped_bytes"] / 2**20,
                     "fits": data["unzipped_bytes"] <= LAMBDA.unzipped_package_bytes})
    return rows


def build(results: Path, *, peak_rps: float = 20.0, slo_ms: float = 100.0, region: str = "us-east-1",
          package_root: Path = Path("build/lambda")) -> dict[str, Any]:
    summary = json.loads((results / "summary.json").read_text())
    records = _records(results)
    prices = load_prices(region)
    inputs = inputs_from_results(results)
    inputs.slo_p99_ms = slo_ms
    tuning = _power_tuning(summary, prices, inputs, peak_rps)
    samples = samples_from_records(records)  # raw.jsonl, read once above
    comparisons = {}
    for name in PROFILES:
        rates = profile_rates(name, peak_rps)
        comparisons[name] = compare(prices, inputs, rates, name, simulate_options(inputs, rates, samples=samples))
    sweep = sweep_constant_rates(prices, inputs, np.logspace(-3, 4, 300))
    sources = sorted({g["source"] for g in summary["groups"]}) or ["measured-local"]
    source_text = " and ".join(SOURCES[s] for s in sources)
    figures: dict[str, tuple[str, bytes]] = {
        "cost": ("Monthly cost versus request rate, every option, the cheapest Lambda and the cheapest container "
                 "option drawn thick (modeled; inputs measured, see the inputs table)", charts.cost_vs_rate(sweep)),
        "options": ("Every option under every traffic profile (modeled; p99 simulated)",
                    charts.options_by_profile(comparisons, slo_ms)),
        "latency": (f"Latency distribution, warm versus cold ({source_text})",
                    charts.latency_cdf(_latency_series(records), sources[0])),
    }
    shown = comparisons[TUNING_PROFILE]
    figures["simulation"] = (f"Latency and instances over the {TUNING_PROFILE} profile, simulated (modeled from the "
                             "inputs; recommended option drawn thicker)",
                             charts.simulation_timeline(shown["timelines"],
                                                        simulation_key(parse_option(shown["recommendation"])), slo_ms,
                                                        TUNING_PROFILE))
    anatomies = {k.split("/")[0]: v["anatomy_p50_ms"] for k, v in summary["findings"].items()
                 if k.endswith("/cold-start") and "anatomy_p50_ms" in v}
    if anatomies:
        figures["anatomy"] = ("Cold-start anatomy per runtime and door, p50 (" + source_text + ")",
                              charts.cold_start_anatomy(anatomies, sources[0]))
    sweeps = {k.split("/")[0]: v["by_trees"] for k, v in summary["findings"].items()
              if k.endswith("/model-size") and v.get("by_trees")}
    lambda_sweep = next((v for k, v in sweeps.items() if k.startswith("local-lambda") or k.startswith("aws-lambda")),
                        None)
    if lambda_sweep:
        figures["model_size"] = ("Model size versus cold start (" + source_text + ")",
                                 charts.model_size(lambda_sweep, sources[0]))
    if tuning is not None:
        figures["memory"] = (f"Power tuning: duration (measured, {SOURCES[tuning['source']]}) and cost per million "
                             "invocations (modeled) against memory size",
                             charts.memory_sweep(tuning["sizes"], tuning["source"]))
    limits = {k.split("/")[0]: v for k, v in summary["findings"].items() if k.endswith("/limits")}
    local_anatomies = {k: v for k, v in anatomies.items() if not k.startswith("aws-")}
    memory_mb = next((int(t["emulator"]["memory_mb"]) for k, t in summary.get("targets", {}).items()
                      if k.startswith("local-lambda") and t.get("emulator", {}).get("memory_mb")), 1024)
    cold_estimates = estimates(local_anatomies, memory_mb=memory_mb) if local_anatomies else []
    verdict = _verdict(comparisons, sweep, summary, anatomies, peak_rps, tuning)
    skipped = [[k, v["skipped"]] for k, v in summary["findings"].items() if v.get("skipped")]
    model = summary.get("environment", {}).get("model") or {}
    report = {"run_id": summary.get("run_id"), "verdict": verdict, "comparisons": comparisons, "sweep": sweep,
              "model": model, "model_line": _model_line(model), "skipped": skipped,
              "inputs_provenance": inputs.provenance, "limits": limits, "packages": _package_rows(package_root),
              "prices": {"file": prices.path, "retrieved": prices.retrieved}, "peak_rps": peak_rps,
              "slo_p99_ms": slo_ms, "sources": sources, "power_tuning": tuning, "cold_estimates": cold_estimates}
    _write_cost_files(results, comparisons, sweep)
    _write_markdown(results, report, summary, figures)
    _write_html(results, report, summary, figures)
    return report


def _model_line(model: dict[str, Any]) -> str:
    """Which model the run measured: name, version, task and the SHA-256 of its manifest (which
    hashes every file), so a report can be matched to the exact bundle."""
    if not model.get("name"):
        return "Model: not recorded in this run"
    digest = model.get("manifest_sha256")
    return (f"Model: {model['name']} version {model.get('version')} ({model.get('task') or 'classification'}"
            + (f", recipe {model['recipe'].get('name')}" if isinstance(model.get("recipe"), dict) else "")
            + ")" + (f", manifest SHA-256 {digest}" if digest else ""))


def _power_tuning(summary: dict[str, Any], prices: Any, inputs: Any, peak_rps: float) -> dict[str, Any] | None:
    """The memory size for the SLO at the report's traffic (the diurnal profile at its peak), applied
    to the cost model's inputs; None when the run has no memory sweep."""
    tuning = tune_memory(prices, inputs, summary, profile_rates(TUNING_PROFILE, peak_rps), strategy="slo")
    if tuning is not None:
        tuning["traffic"] = (f"{TUNING_PROFILE} at a peak of {peak_rps:g} req/s ({tuning['cold_fraction']:.2%} "
                             "cold starts, modeled)")
    return tuning


def _verdict(comparisons: dict[str, Any], sweep: dict[str, Any], summary: dict[str, Any],
             anatomies: dict[str, dict[str, float]], peak_rps: float,
             tuning: dict[str, Any] | None = None) -> list[str]:
    picks = ", ".join(f"{name}: {c['recommendation']} (${c['options'][c['recommendation']]['total_usd']:,.2f})"
                      for name, c in comparisons.items())
    be = sweep["break_even_rps"]
    lines = [f"Cheapest option meeting the SLO at a peak of {peak_rps:g} req/s (modeled, p99 simulated) — {picks}. "
             f"Why, for {TUNING_PROFILE}: " + "; ".join(comparisons[TUNING_PROFILE]["reasons"]) + ".",
             ("Break-even between the cheapest Lambda and the cheapest container option at constant traffic: "
              + ", ".join(f"{r:,.1f} req/s" for r in be)
              + " (below it a Lambda option is cheaper, above it an always-on one)") if be
             else "No break-even between 0.001 and 10,000 req/s for these inputs (modeled)."]
    cold = {k: sum(v.values()) for k, v in anatomies.items()}
    if cold:
        lines.append("Cold start p50 (measured here, a lower bound of AWS's; the AWS estimates are in the "
                     "cold-start table): " + ", ".join(f"{k} {v:,.0f} ms" for k, v in cold.items()) + ".")
    warm = [g for g in summary["groups"] if g["scenario"] == "warm" and g["latency_ms"].get("count")]
    if warm:
        lines.append("Warm p99 (measured): " + ", ".join(f"{g['target']} {g['latency_ms']['p99']:.1f} ms"
                                                         for g in warm) + ".")
    failed = [(g, g["requests"] - g["ok"]) for g in summary["groups"] if g["requests"] > g["ok"]
              and g["scenario"] not in ("limits", "saturation")]  # those two look for the failure on purpose
    if failed:
        total = sum(n for _, n in failed)
        lines.insert(1, f"Failed requests (measured): {total:,} — " + ", ".join(
            f"{g['target']}/{g['scenario']} {n} of {g['requests']}" for g, n in failed[:4])
            + (", …" if len(failed) > 4 else "") + "; see the latency table.")
    limits = [f"{k.split('/')[0]} stopped by {v['stopped_by']} at {v.get('at_batch')} instances"
              for k, v in summary["findings"].items() if k.endswith("/limits") and v.get("at_batch")]
    if limits:
        lines.append("Limits (measured): " + "; ".join(limits) + ".")
    if tuning is not None:
        chosen = f"{tuning['memory_mb']} MB" if tuning["memory_mb"] else "no memory size"
        lines.insert(2, f"Lambda memory: {chosen} — {tuning['reason']} ({tuning['traffic']}).")
    return lines[:6]


def _write_cost_files(results: Path, comparisons: dict[str, Any], sweep: dict[str, Any]) -> None:
    rows = []
    for profile, c in comparisons.items():
        for option, o in c["options"].items():
            rows.append({"profile": profile, "option": option, "usd_per_month": round(o["total_usd"], 2),
                         "p99_ms": round(o["p99_ms"], 2), "p99_source": o.get("p99_source", ""),
                         "meets_slo": o["meets_slo"],
                         "recommended": option == c["recommendation"], "source": "modeled"})
    with (results / "cost.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (results / "cost.json").write_text(json.dumps({"comparisons": comparisons, "sweep": sweep}, indent=2,
                                                  default=float))


def _latency_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for g in summary["groups"]:
        lat = g["latency_ms"]
        if not g["requests"] or g["scenario"] in ("saturation", "limits", "model-size"):
            continue
        failed = str(g["requests"] - g["ok"])
        if not lat.get("count"):  # every request failed: a row that says so, never a dropped one
            rows.append([g["target"], g["scenario"], g["source"], "0", "", "", "", str(g["cold_starts"]),
                         str(g["throttled"]), failed])
            continue
        lo, hi = lat["p50_ci95"]
        ci = f"[{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else "n/a"
        rows.append([g["target"], g["scenario"], g["source"], str(g["ok"]), f"{lat['p50']:.2f}", ci,
                     f"{lat['p99']:.2f}", str(g["cold_starts"]), str(g["throttled"]), failed])
    return rows


LATENCY_HEADER = ["target", "scenario", "source", "n", "p50 ms", "p50 95% CI", "p99 ms", "cold", "throttled",
                  "failed"]


def _sections(report: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    profiles = list(report["comparisons"])
    names = sorted({n for c in report["comparisons"].values() for n in c["options"]},
                   key=lambda n: (not n.startswith("lambda"), n))
    cost_rows = [[n, *(_cost_cell(report["comparisons"][p], n) for p in profiles)] for n in names]
    sim_rows = [[p, o, *_simulated_cells(v.get("simulated"))]
                for p, c in report["comparisons"].items() for o, v in c["options"].items()
                if o == c["recommendation"] or o == "fargate:x86_64" or o == "lambda:http:x86_64"]
    inputs = [[k, v] for k, v in report["inputs_provenance"].items()]
    limit_rows = [[t, str(v.get("largest_ok_batch")), v.get("stopped_by", ""), str(v.get("at_batch", ""))]
                  for t, v in report["limits"].items()]
    limit_rows += [[f"package {p['variant']}", "", f"{p['unzipped_mb']:.1f} MB unzipped of {PACKAGE_LIMIT_MB} MB; "
                    f"{p['zipped_mb']:.1f} MB zipped", "fits" if p["fits"] else "does not fit"]
                   for p in report["packages"]]
    sections = [
        (f"Monthly cost of every option under every traffic profile at a peak of {report['peak_rps']:g} req/s — "
         f"modeled (prices {report['prices']['retrieved']}); USD/month and simulated p99; ✔ recommended "
         "(the cheapest meeting the SLO), ✘ misses the SLO; line items per option in cost.json",
         ["option", *profiles], cost_rows),
        ("The recommendation per traffic profile, and why (modeled)", ["profile", "recommended", "why"],
         [[p, c["recommendation"], "; ".join(c["reasons"])] for p, c in report["comparisons"].items()]),
        ("What the simulation saw (modeled): the recommended options and the two reference set-ups",
         ["profile", "option", "cold starts", "throttled", "timed out", "max instances"], sim_rows),
        ("Model inputs and where each came from", ["input", "source"], inputs),
        ("Latency — " + " and ".join(SOURCES[s] for s in report["sources"]), LATENCY_HEADER, _latency_rows(summary)),
        ("Limits: what fits in Lambda's time, payload and package limits — measured here (packages: built here)",
         ["target", "largest batch that worked", "stopped by", "at batch"], limit_rows),
    ]
    if report.get("cold_estimates"):
        sections.insert(3, (
            "Cold starts: measured here (a lower bound: timed from process spawn) and estimated for AWS (modeled)",
            ["target", "INIT p50 measured here, ms", "AWS estimate, ms (modeled)", "range, ms", "basis"],
            [[e["target"], f"{e['local_init_ms']:,.0f}", _ms(e["aws_ms"]),
              f"{e['aws_low_ms']:,.0f}-{e['aws_high_ms']:,.0f}" if e["aws_ms"] is not None else "", e["basis"]]
             for e in report["cold_estimates"]]))
    if report.get("skipped"):
        sections.append(("Scenarios not measured, and why", ["target/scenario", "reason"], report["skipped"]))
    tuning = report.get("power_tuning")
    if tuning:
        rows = [[str(s["memory_mb"]) + (" ✔" if s["memory_mb"] == tuning["memory_mb"] else ""),
                 _ms(s["duration_p50_ms"]), _ms(s["duration_p99_ms"]), _ms(s["billed_p50_ms"]), _ms(s["init_p50_ms"]),
                 _ms(s["p99_with_cold_ms"]),
                 f"{s['max_memory_used_mb'] or ''}" + (" (within 10% of the size)" if s["near_memory_limit"] else ""),
                 f"{s['usd_per_million']['x86_64']:,.2f}", f"{s['usd_per_million']['arm64']:,.2f}",
                 ", ".join(f"{k} ×{v}" for k, v in s["failures"].items()) or "none",
                 "capped" if s["cpu_capped"] else ""]
                for s in tuning["sizes"]]
        note = f" {tuning['cpu_note']}." if tuning.get("cpu_note") else ""
        sections.insert(1, (
            f"Power tuning — durations {SOURCES[tuning['source']]}, costs modeled (arm64 priced at the measured "
            f"duration: not measured on arm64).{note}",
            ["memory MB", "duration p50", "duration p99", "billed p50", "INIT p50", "p99 with cold starts",
             "max memory used MB", "USD/M x86_64", "USD/M arm64", "failures", "CPU quota"], rows))
    return sections


def _cost_cell(comparison: dict[str, Any], name: str) -> str:
    entry = comparison["options"].get(name)
    if entry is None:
        return ""
    mark = " ✔" if name == comparison["recommendation"] else ("" if entry["meets_slo"] else " ✘")
    return f"${entry['total_usd']:,.2f} ({entry['p99_ms']:,.0f} ms){mark}"


def _simulated_cells(sim: dict[str, Any] | None) -> list[str]:
    if not sim:
        return ["", "", "", ""]
    cold = f"{sim['cold_starts']:,.0f} ({sim['cold_starts'] / sim['requests']:.2%})" if sim["requests"] else "0"
    return [cold, f"{sim['throttled']:,.0f}", f"{sim['failed']:,.0f}", f"{sim['max_instances']:,.0f}"]


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _write_markdown(results: Path, report: dict[str, Any], summary: dict[str, Any],
                    figures: dict[str, tuple[str, bytes]]) -> None:
    out = [f"# twinserve report — run {report['run_id']}", "", report["model_line"], "", "## Verdict", ""]
    out += [f"- {line}" for line in report["verdict"]]
    for key, (caption, png) in figures.items():
        (results / f"report-{key}.png").write_bytes(png)
        out += ["", f"![{caption}](report-{key}.png)", f"*{caption}*"]
    for title, header, rows in _sections(report, summary):
        out += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    (results / "report.md").write_text("\n".join(out) + "\n")


STYLE = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#f3f3f3}.verdict{background:#f6fbff;border-left:4px solid #2a7ae2;padding:.5rem 1rem}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}img{max-width:100%}"""
SCRIPT = """window.addEventListener('load',function(){var imgs=document.images,ok=0;
for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}
document.body.setAttribute('data-images-loaded',ok);document.body.setAttribute('data-images-total',imgs.length);});"""


def _write_html(results: Path, report: dict[str, Any], summary: dict[str, Any],
                figures: dict[str, tuple[str, bytes]]) -> None:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>twinserve report {e(str(report['run_id']))}"
             f"</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
             f"<h1>twinserve report — run {e(str(report['run_id']))}</h1>",
             f"<p class='model'>{e(report['model_line'])}</p>",
             "<p>Sources: <b>measured here</b> = this machine (local Lambda emulator on the real runtime client, "
             "the container service process); <b>measured on AWS</b> = the deployed stacks; <b>modeled</b> = "
             "computed from prices and the inputs listed below.</p>",
             "<div class='verdict'><h2>Verdict</h2><ul>" + "".join(f"<li>{e(v)}</li>" for v in report["verdict"])
             + "</ul></div>"]
    for caption, png in figures.values():
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    for title, header, rows in _sections(report, summary):
        parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
                     + "</table>")
    env = summary.get("environment", {}).get("machine", {})
    parts.append(f"<p><small>Machine: {e(str(env.get('cpu')))}, {env.get('cpus')} CPUs, Python "
                 f"{e(str(env.get('python')))}; commit {e(str(env.get('git_commit')))}; prices "
                 f"{e(report['prices']['file'])}.</small></p></body></html>")
    (results / "report.html").write_text("".join(parts))
