"""`twinserve prices refresh`: pull current prices from the AWS Price List API into a new dated file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cost_model.prices import PRICES_DIR, load_prices

# price item -> (service code, filters, which price dimension) for the items the API answers
# directly; tiered items and ones it does not list stay as in the previous file.
QUERIES: dict[str, tuple[str, dict[str, str]]] = {
    "lambda.requests": ("AWSLambda", {"group": "AWS-Lambda-Requests"}),
    "fargate.vcpu.x86_64": ("AmazonECS", {"usagetype": "{region_code}-Fargate-vCPU-Hours:perCPU"}),
    "fargate.memory.x86_64": ("AmazonECS", {"usagetype": "{region_code}-Fargate-GB-Hours"}),
    "alb.hours": ("AWSELB", {"usagetype": "{region_code}-LoadBalancerUsage",
                             "productFamily": "Load Balancer-Application"}),
}
REGION_CODES = {"us-east-1": "USE1", "us-east-2": "USE2", "us-west-2": "USW2", "eu-west-1": "EU",
                "eu-central-1": "EUC1"}
PER_HOUR_TO_PER_SECOND = {"fargate.vcpu.x86_64", "fargate.memory.x86_64"}


def _usd_per_unit(price_item: dict[str, Any]) -> float:
    terms = price_item["terms"]["OnDemand"]
    for term in terms.values():
        for dimension in term["priceDimensions"].values():
            return float(dimension["pricePerUnit"]["USD"])
    raise ValueError("no on-demand price dimension")


def refresh(pricing: Any, region: str, *, out_dir: Path = PRICES_DIR, today: str | None = None) -> Path:
    """Query each item, keep the rest from the newest existing file, write <region>.<date>.json."""
    base = load_prices("us-east-1" if not list(out_dir.glob(f"{region}.*.json")) else region)
    items = json.loads(json.dumps(base.items))
    code = REGION_CODES.get(region, region)
    date = today or datetime.now(UTC).strftime("%Y-%m-%d")
    for key, (service, filters) in QUERIES.items():
        flt = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
        flt += [{"Type": "TERM_MATCH", "Field": k, "Value": v.format(region_code=code)} for k, v in filters.items()]
        response = pricing.get_products(ServiceCode=service, Filters=flt, MaxResults=10)
        if not response.get("PriceList"):
            continue
        entry = response["PriceList"][0]
        usd = _usd_per_unit(json.loads(entry) if isinstance(entry, str) else entry)
        if key in PER_HOUR_TO_PER_SECOND:
            usd /= 3600.0
        items[key] = {**items[key], "usd": usd,
                      "source": f"AWS Price List API {service} {filters} ({date})"}
    out = out_dir / f"{region}.{date}.json"
    out.write_text(json.dumps({"region": region, "currency": "USD", "retrieved": date,
                               "note": "Refreshed from the AWS Price List API; items it does not answer are kept "
                                       f"from {Path(base.path).name}.", "items": items}, indent=2) + "\n")
    return out
