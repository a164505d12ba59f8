"""Choice sets in the published schema: each under one plain name, with its real values.

Several serializers have a field called side, type, product or time_in_force with different
choices; drf-spectacular then invents hashed names (Product8f7Enum) and warns in
`check --deploy`, and a name clash once documented an order's type as only market/limit.
ENUM_NAME_OVERRIDES (settings) names each set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from orders.models import OrderSide, OrderType, Product, TimeInForce


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _enum_values(schema: dict[str, Any], component: str, field: str) -> list[str]:
    prop = schema["components"]["schemas"][component]["properties"][field]
    ref = prop.get("$ref") or next(item["$ref"] for item in prop["allOf"] if "$ref" in item)
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["enum"]


def test_no_choice_set_has_a_made_up_name(schema):
    hashed = [
        name
        for name in schema["components"]["schemas"]
        if re.search(r"[0-9a-f]{3}Enum$", name) and re.search(r"\d", name)
    ]
    assert hashed == []


@pytest.mark.parametrize("component", ["Order", "OrderInputRequest"])
def test_an_order_lists_every_value_its_model_takes(schema, component):
    assert _enum_values(schema, component, "type") == list(OrderType.values)
    assert _enum_values(schema, component, "side") == list(OrderSide.values)
    assert _enum_values(schema, component, "product") == list(Product.values)
    assert _enum_values(schema, component, "time_in_force") == list(TimeInForce.values)
