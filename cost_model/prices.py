"""Price books: dated JSON files under cost_model/prices/, one per region and retrieval date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_DIR = Path(__file__).parent / "prices"


class PriceError(KeyError):
    """A price item or a price file is missing."""


@dataclass(frozen=True)
class PriceBook:
    region: str
    retrieved: str
    items: dict[str, dict[str, Any]]
    path: str

    def usd(self, key: str) -> float:
        return float(self._item(key)["usd"])

    def quantity(self, key: str) -> float:
        return float(self._item(key)["quantity"])

    def tiers(self, key: str) -> list[tuple[float | None, float]]:
        """[(cumulative upper bound or None, usd per unit)], in order."""
        return [(None if upper is None else float(upper), float(price)) for upper, price in self._item(key)["tiers"]]

    def source(self, key: str) -> str:
        return str(self._item(key).get("source", ""))

    def _item(self, key: str) -> dict[str, Any]:
        try:
            return self.items[key]
        except KeyError:
            raise PriceError(f"price item {key!r} is not in {self.path}") from None


def load_prices(region: str = "us-east-1", path: Path | None = None) -> PriceBook:
    """The newest price file for a region (or the given file)."""
    if path is None:
        candidates = sorted(PRICES_DIR.glob(f"{region}.*.json"))
        if not candidates:
            known = sorted({p.name.split(".")[0] for p in PRICES_DIR.glob("*.json")})
            raise PriceError(f"no price file for region {region!r} (have: {', '.join(known)}); "
                             f"run `twinserve prices refresh --region {region}`")
        path = candidates[-1]
    data = json.loads(path.read_text())
    return PriceBook(region=data["region"], retrieved=data["retrieved"], items=data["items"], path=str(path))
