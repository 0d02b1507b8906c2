"""The report's charts (matplotlib, Agg): PNG bytes, each titled with where its numbers came from."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def cost_vs_rate(sweep: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    rates = np.array(sweep["rates_per_s"])
    for name, usd in sweep.get("options", {}).items():
        color = "tab:blue" if name.startswith("lambda") else "tab:orange"
        ax.loglog(rates, usd, linewidth=0.7, alpha=0.45, color=color)
    ax.loglog(rates, sweep["lambda_usd"], linewidth=2.2, color="tab:blue", label="cheapest Lambda option")
    ax.loglog(rates, sweep["fargate_usd"], linewidth=2.2, color="tab:orange", label="cheapest container option")
    for be in sweep["break_even_rps"]:
        ax.axvline(be, color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"break-even {be:,.1f} req/s", (be, ax.get_ylim()[0]), rotation=90, va="bottom", ha="right",
                    fontsize=8)
    ax.set_xlabel("constant request rate (req/s)")
    ax.set_ylabel("USD per month")
    ax.set_title("Monthly cost vs request rate, every option (thin) — modeled from measured inputs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _png(fig)


def options_by_profile(comparisons: dict[str, Any], slo_ms: float) -> bytes:
    """Every option's monthly cost under every profile; hollow where its simulated p99 misses the SLO,
    a star on each profile's recommendation."""
    profiles = list(comparisons)
    names = sorted({n for c in comparisons.values() for n in c["options"]},
                   key=lambda n: (not n.startswith("lambda"), n))
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(names) + 1.6))
    height = 0.8 / max(len(profiles), 1)
    for i, profile in enumerate(profiles):
        options = comparisons[profile]["options"]
        ys = np.arange(len(names)) + (i - (len(profiles) - 1) / 2) * height
        usd = [options[n]["total_usd"] if n in options else np.nan for n in names]
        meets = [bool(options.get(n, {}).get("meets_slo")) for n in names]
        bars = ax.barh(ys, usd, height=height, label=profile, color=f"C{i}")
        for bar, ok in zip(bars, meets, strict=True):
            if not ok:
                bar.set_fill(False)
                bar.set_edgecolor(f"C{i}")
        if comparisons[profile]["recommendation"] in names:
            j = names.index(comparisons[profile]["recommendation"])
            ax.plot(usd[j], ys[j], marker="*", color="black", markersize=9)
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("USD per month (log scale)")
    ax.set_title(f"Every option × traffic profile — modeled; hollow: simulated p99 over {slo_ms:g} ms; "
                 "★ recommended", fontsize=9)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def latency_cdf(series: dict[str, list[float]], source: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, values in series.items():
        if not values:
            continue
        xs = np.sort(values)
        ax.semilogx(xs, np.arange(1, len(xs) + 1) / len(xs), label=f"{name} (n={len(xs)})")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests ≤ x")
    ax.set_title(f"Latency CDF, warm vs cold — {source}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


ANATOMY_PARTS = [("runtime_start_ms", "runtime + interpreter start"), ("imports_ms", "imports"),
                 ("model_load_ms", "model load"), ("first_predict_ms", "first predict"),
                 ("other_init_ms", "INIT not split by the handler"), ("invoke_ms", "invoke")]


def cold_start_anatomy(anatomies: dict[str, dict[str, float]], source: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.7 * max(1, len(anatomies))))
    names = list(anatomies)
    left = np.zeros(len(names))
    for key, label in ANATOMY_PARTS:
        values = np.array([anatomies[n].get(key, 0.0) for n in names])
        ax.barh(names, values, left=left, label=label)
        left += values
    ax.set_xlabel("milliseconds (p50 of forced cold starts)")
    ax.set_title(f"What a cold start is made of — {source}")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(names) < 3 else -0.15))
    return _png(fig)


def model_size(by_trees: dict[str, dict[str, Any]], source: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    trees = sorted(by_trees, key=int)
    size_kb = [by_trees[t]["artifact_bytes"] / 1024 for t in trees]
    cold = [by_trees[t].get("init_p50_ms") or by_trees[t].get("process_to_healthy_p50_ms") or 0 for t in trees]
    ax.plot(size_kb, cold, marker="o")
    for t, x, y in zip(trees, size_kb, cold, strict=True):
        ax.annotate(f"{t} trees", (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("model artifact (KB, log scale)")
    ax.set_ylabel("cold start (INIT p50, ms)")
    ax.set_title(f"Model size vs cold start — {source}")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def memory_sweep(rows: list[dict[str, Any]], source: str) -> bytes:
    """The power-tuning chart: duration p50 (measured) and cost per million invocations (modeled,
    both architectures) against memory size, on two axes; failed sizes marked."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ok = [r for r in rows if r["duration_p50_ms"] is not None and not r["failures"]]
    memory = [r["memory_mb"] for r in ok]
    ax.plot(memory, [r["duration_p50_ms"] for r in ok], marker="o", color="tab:blue", label="duration p50 (measured)")
    for r in rows:
        if r["failures"]:
            ax.axvline(r["memory_mb"], color="tab:red", linestyle=":", linewidth=1)
            ax.annotate(f"{r['memory_mb']} MB failed: {', '.join(r['failures'])}", (r["memory_mb"], 0),
                        rotation=90, va="bottom", ha="right", fontsize=7, color="tab:red")
    ax.set_xscale("log", base=2)
    ax.set_xticks([r["memory_mb"] for r in rows], [str(r["memory_mb"]) for r in rows])
    ax.minorticks_off()
    ax.set_xlabel("memory size (MB, log scale)")
    ax.set_ylabel("duration p50 (ms)", color="tab:blue")
    cost = ax.twinx()
    for arch, style in (("x86_64", "-"), ("arm64", "--")):
        cost.plot(memory, [r["usd_per_million"][arch] for r in ok], linestyle=style, marker="s", color="tab:orange",
                  label=f"USD per million, {arch} (modeled)")
    cost.set_ylabel("USD per million invocations", color="tab:orange")
    lines = ax.get_legend_handles_labels()[0] + cost.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + cost.get_legend_handles_labels()[1]
    ax.legend(lines, labels, fontsize=8, loc="upper center")
    ax.set_title(f"Power tuning: duration and cost vs memory — {source}")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def simulation_timeline(timelines: dict[str, dict[str, list[Any]]], recommended: str, slo_ms: float, profile: str,
                        hours: float = 48.0) -> bytes:
    """Simulated p99 and instances (environments or tasks) over the first `hours` of the profile."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.2), sharex=True)
    for name, line in timelines.items():
        t_h = np.array(line["t_s"], dtype=np.float64) / 3600.0
        keep = t_h <= hours
        p99 = np.array([np.nan if v is None else v for v in line["p99_ms"]], dtype=np.float64)
        style = {"linewidth": 2.0 if name == recommended else 1.0,
                 "label": f"{name}{' (recommended)' if name == recommended else ''}"}
        top.semilogy(t_h[keep], p99[keep], **style)
        bottom.step(t_h[keep], np.array(line["instances"])[keep], where="post", **style)
    top.axhline(slo_ms, color="grey", linestyle="--", linewidth=1, label=f"SLO p99 {slo_ms:g} ms")
    top.set_ylabel("p99 latency (ms)")
    top.set_title(f"Simulated under {profile} traffic — modeled (cold starts, queueing, autoscaling)")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
    bottom.set_ylabel("environments / tasks")
    bottom.set_xlabel("hours into the month")
    bottom.grid(True, alpha=0.3)
    return _png(fig)
