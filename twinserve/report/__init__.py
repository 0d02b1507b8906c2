"""The decision report: measured latencies and cold starts (from a benchmark run) beside the modeled
costs (from cost_model), in HTML with charts, Markdown, CSV and JSON. Every figure carries its source."""

from __future__ import annotations

from twinserve.report.builder import build

__all__ = ["build"]
