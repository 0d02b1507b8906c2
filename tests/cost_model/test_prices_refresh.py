"""`twinserve prices refresh`: the Price List API (recorded response through botocore's Stubber,
since moto has no Pricing API) into a new dated price file."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from botocore.stub import ANY, Stubber

from cost_model.prices import PRICES_DIR, load_prices
from cost_model.refresh import QUERIES, refresh

# Shape of one PriceList entry as the API returns it (a JSON string), trimmed to what is read.
RECORDED = {
    "product": {"productFamily": "Serverless",
                "attributes": {"group": "AWS-Lambda-Requests", "regionCode": "us-east-1"}},
    "terms": {"OnDemand": {"ABC.JRTCKXETXF": {"priceDimensions": {"ABC.JRTCKXETXF.6YS6EN2CT7": {
        "unit": "Requests", "pricePerUnit": {"USD": "0.0000002100"}}}}}},
}


def test_refresh_writes_a_new_dated_file_from_the_api(tmp_path: Path) -> None:
    for path in PRICES_DIR.glob("us-east-1.*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [json.dumps(RECORDED)], "FormatVersion": "aws_v1"},
                          {"ServiceCode": "AWSLambda", "Filters": ANY, "MaxResults": 10})
        fargate_hour = dict(RECORDED, terms={"OnDemand": {"T": {"priceDimensions": {"D": {
            "unit": "hours", "pricePerUnit": {"USD": "0.0450000000"}}}}}})
        stub.add_response("get_products", {"PriceList": [json.dumps(fargate_hour)]},
                          {"ServiceCode": "AmazonECS", "Filters": ANY, "MaxResults": 10})
        stub.add_response("get_products", {"PriceList": []},
                          {"ServiceCode": "AmazonECS", "Filters": ANY, "MaxResults": 10})
        stub.add_response("get_products", {"PriceList": []},
                          {"ServiceCode": "AWSELB", "Filters": ANY, "MaxResults": 10})
        out = refresh(client, "us-east-1", out_dir=tmp_path, today="2026-11-23")
        stub.assert_no_pending_responses()
    assert out.name == "us-east-1.2026-11-23.json"
    book = load_prices(path=out)
    assert book.retrieved == "2026-11-23"
    assert book.usd("lambda.requests") == 2.1e-07
    assert book.usd("fargate.vcpu.x86_64") == 0.045 / 3600  # hourly price turned into per second
    assert "Price List API" in book.source("lambda.requests")
    assert book.usd("alb.hours") == 0.0225  # not answered: kept from the previous file
    assert len(QUERIES) == 4
