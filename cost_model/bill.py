"""Line items and tiered pricing shared by every cost function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Tiers = list[tuple[float | None, float]]


def tiered_usd(quantity: ArrayLike, tiers: Tiers) -> NDArray[np.float64]:
    """Cost of `quantity` units under cumulative tiers [(upper bound or None, usd per unit)], vectorised."""
    q = np.asarray(quantity, dtype=np.float64)
    total = np.zeros_like(q)
    lower = 0.0
    for upper, price in tiers:
        hi = np.inf if upper is None else upper
        total = total + np.clip(q - lower, 0.0, hi - lower) * price
        lower = hi
    return total


@dataclass
class Line:
    item: str
    quantity: float
    unit: str
    usd: float

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "quantity": self.quantity, "unit": self.unit, "usd": self.usd}


@dataclass
class Bill:
    """A modeled bill: line items, their total, and the inputs they were computed from."""

    lines: list[Line] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)

    def add(self, item: str, quantity: float, unit: str, usd: float) -> None:
        self.lines.append(Line(item, float(quantity), unit, float(usd)))

    @property
    def total_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"total_usd": round(self.total_usd, 6), "lines": [line.as_dict() for line in self.lines],
                "source": "modeled", "inputs": self.inputs}

    def __add__(self, other: Bill) -> Bill:
        return Bill(self.lines + other.lines, {**self.inputs, **other.inputs})
