"""API Gateway: HTTP APIs (metered in 512 KB increments) and REST APIs, tiered per month."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cost_model.bill import Bill, tiered_usd
from cost_model.prices import PriceBook

HTTP_METERING_KB = 512
API_TYPES = ("http", "rest")


def metered_requests(requests: ArrayLike, request_kb: float, api_type: str) -> NDArray[np.float64]:
    """HTTP API requests count once per started 512 KB (a 1.2 MB request counts as 3)."""
    req = np.asarray(requests, dtype=np.float64)
    if api_type == "http":
        return req * max(1, int(np.ceil(request_kb / HTTP_METERING_KB)))
    return req


def apigw_monthly_usd(prices: PriceBook, *, requests: ArrayLike, api_type: str = "http",
                      request_kb: float = 1.0) -> NDArray[np.float64]:
    if api_type not in API_TYPES:
        raise ValueError(f"API type {api_type!r} is not one of {', '.join(API_TYPES)}")
    return tiered_usd(metered_requests(requests, request_kb, api_type), prices.tiers(f"apigw.{api_type}.requests"))


def apigw_bill(prices: PriceBook, *, requests: float, api_type: str = "http", request_kb: float = 1.0) -> Bill:
    bill = Bill(inputs={"requests": requests, "api_type": api_type, "request_kb": request_kb, "prices": prices.path})
    metered = float(metered_requests(requests, request_kb, api_type))
    bill.add(f"API Gateway {api_type.upper()} API requests", metered, "requests",
             float(apigw_monthly_usd(prices, requests=requests, api_type=api_type, request_kb=request_kb)))
    return bill
