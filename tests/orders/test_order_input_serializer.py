"""orders/api/serializers.py OrderInputSerializer: each instance works on its own copies of the
declared fields (shallow copies, not DRF's deep copies)."""

from __future__ import annotations

from decimal import Decimal

from orders.api.serializers import OrderInputSerializer

GOOD = {"account": "a1", "symbol": "ACME", "side": "buy", "type": "limit", "qty": "10"}


def _parse(data: dict) -> OrderInputSerializer:
    serializer = OrderInputSerializer(data=data)
    serializer.is_valid()
    return serializer


def test_the_declared_fields_are_never_bound_or_shared():
    # When two serializers parse orders
    first, second = _parse(GOOD), _parse({**GOOD, "take_profit": {"limit_price": "11"}})
    # Then each has its own field objects, bound to itself
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and field.field_name == name
    # and the class's declared fields stay unbound for the next one
    for field in OrderInputSerializer._declared_fields.values():
        assert field.parent is None and field.field_name is None


def test_values_and_defaults_parse_as_declared():
    serializer = _parse({**GOOD, "limit_price": 10.05, "take_profit": {"limit_price": "12"}})
    assert serializer.errors == {}
    assert serializer.to_service_kwargs() == {
        "account_id": "a1",
        "symbol": "ACME",
        "side": "buy",
        "order_type": "limit",
        "qty": Decimal("10"),
        "limit_price": Decimal("10.05"),
        "stop_price": None,
        "trail_price": None,
        "trail_percent": None,
        "time_in_force": "day",
        "expire_at": None,
        "display_qty": None,
        "order_class": "simple",
        "take_profit": {"limit_price": Decimal("12")},
        "stop_loss": None,
        "client_order_id": None,
        "tag": "",
        "product": "delivery",
    }


def test_errors_name_their_field_and_do_not_leak_into_the_next_order():
    # Given a bad order (a bad leg among them) parsed first
    bad = _parse(
        {**GOOD, "side": "up", "qty": "x", "take_profit": {"limit_price": "abc"}, "tag": None}
    )
    # Then each bad field is named, the leg's under the leg
    assert set(bad.errors) == {"side", "qty", "take_profit", "tag"}
    assert set(bad.errors["take_profit"]) == {"limit_price"}
    assert bad.errors["side"][0].code == "invalid_choice"
    # And a good order parsed after it is clean
    assert _parse({**GOOD, "take_profit": {"limit_price": "11"}}).errors == {}


def test_unknown_keys_are_still_refused():
    assert _parse({**GOOD, "colour": "red"}).errors == {"colour": ["Unknown field."]}
