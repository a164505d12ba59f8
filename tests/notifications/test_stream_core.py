"""The pure stream vocabulary: channel parsing, group names, who may get what."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.stream import (
    StreamAccess,
    account_group,
    desired_groups,
    event_visible,
    json_safe,
    market_group,
    parse_channel,
    publish_route,
)

GROUP_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,99}$")
A1 = str(uuid.UUID(int=1))
A2 = str(uuid.UUID(int=2))
A3 = str(uuid.UUID(int=3))


def access(*account_ids: str, admin: bool = False, user_id: str = "u-1") -> StreamAccess:
    return StreamAccess(
        user_id=user_id, sees_all_accounts=admin, account_ids=frozenset(account_ids)
    )


@pytest.mark.parametrize(
    ("name", "kind", "account_id", "symbol"),
    [
        ("orders", "orders", None, None),
        ("positions", "positions", None, None),
        ("fills", "fills", None, None),
        ("accounts", "accounts", None, None),
        ("notifications", "notifications", None, None),
        (f"orders:{A1.upper()}", "orders", A1, None),
        ("quotes:ACME", "quotes", None, "ACME"),
        ("book:M&M", "book", None, "M&M"),
    ],
)
def test_parse_known_channels(name, kind, account_id, symbol):
    spec = parse_channel(name)
    assert spec is not None
    assert (spec.name, spec.kind, spec.account_id, spec.symbol) == (name, kind, account_id, symbol)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "secrets",
        "notifications:x",
        "quotes",
        "quotes:",
        "quotes: ACME",
        "book:" + "X" * 65,
        "orders:a b",
        "orders:../..",
        None,
        42,
        ["orders"],
    ],
)
def test_parse_rejects_unknown_or_malformed_channels(name):
    assert parse_channel(name) is None


def test_member_joins_one_group_per_visible_account_and_nothing_else():
    specs = [parse_channel("orders"), parse_channel(f"fills:{A2}"), parse_channel("quotes:ACME")]
    groups = desired_groups(specs, access(A1, A2))
    assert groups == {
        f"acct.{A1}.orders": frozenset({"orders"}),
        f"acct.{A2}.orders": frozenset({"orders"}),
        f"acct.{A2}.fills": frozenset({f"fills:{A2}"}),
        "quotes.ACME": frozenset({"quotes:ACME"}),
    }


def test_filtered_channel_of_an_invisible_account_joins_no_group():
    assert desired_groups([parse_channel(f"orders:{A3}")], access(A1)) == {}


def test_admin_joins_the_all_accounts_group_not_one_per_account():
    groups = desired_groups([parse_channel("orders")], access(A1, A2, admin=True))
    assert groups == {"all.orders": frozenset({"orders"})}


def test_notifications_group_is_the_users_own():
    groups = desired_groups([parse_channel("notifications")], access(user_id=A3))
    assert groups == {f"user.{A3}.notifications": frozenset({"notifications"})}


@given(st.text(min_size=1, max_size=64).filter(lambda s: s == s.strip() and s.isprintable()))
def test_market_group_names_are_always_valid_for_channels(symbol):
    assert GROUP_NAME.match(market_group(kind="quotes", symbol=symbol))


@given(
    st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip() and s.isprintable()),
    st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip() and s.isprintable()),
)
def test_different_symbols_never_share_a_group(a, b):
    if a != b:
        assert market_group(kind="quotes", symbol=a) != market_group(kind="quotes", symbol=b)


def test_readable_symbols_keep_readable_group_names():
    assert market_group(kind="book", symbol="BAJAJ-AUTO") == "book.BAJAJ-AUTO"
    assert market_group(kind="quotes", symbol="M&M").startswith("quotes._")


def test_account_event_visible_only_for_visible_accounts_and_matching_filter():
    message = {"kind": "orders", "account_id": A1}
    assert event_visible(parse_channel("orders"), message, access(A1))
    assert event_visible(parse_channel(f"orders:{A1}"), message, access(A1))
    assert not event_visible(parse_channel(f"orders:{A2}"), message, access(A1, A2))
    assert not event_visible(parse_channel("orders"), message, access(A2))
    assert not event_visible(parse_channel("fills"), message, access(A1))
    assert not event_visible(parse_channel("orders"), {"kind": "orders"}, access(A1))
    assert event_visible(parse_channel("orders"), message, access(admin=True))


def test_notification_event_visible_only_to_its_user():
    spec = parse_channel("notifications")
    assert event_visible(spec, {"kind": "notifications", "user_id": "u-1"}, access())
    assert not event_visible(spec, {"kind": "notifications", "user_id": "u-2"}, access())


def test_market_event_visible_only_on_its_symbol():
    spec = parse_channel("quotes:ACME")
    assert event_visible(spec, {"kind": "quotes", "symbol": "ACME"}, access())
    assert not event_visible(spec, {"kind": "quotes", "symbol": "FOO"}, access())
    assert not event_visible(spec, {"kind": "book", "symbol": "ACME"}, access())


def test_publish_route_of_an_account_event_reaches_account_and_all_accounts_groups():
    route = publish_route(channel="orders", account_id=uuid.UUID(A1))
    assert route.groups == (account_group(account_id=A1, kind="orders"), "all.orders")
    assert route.account_id == A1


@pytest.mark.parametrize(
    ("channel", "kwargs"),
    [
        ("orders", {}),
        (f"orders:{A1}", {"account_id": A1}),
        ("notifications", {}),
        ("quotes:ACME", {"account_id": A1}),
        ("quotes:", {}),
        ("trades", {"account_id": A1}),
    ],
)
def test_publish_route_refuses_misuse(channel, kwargs):
    with pytest.raises(ValueError):
        publish_route(channel=channel, **kwargs)


def test_json_safe_converts_decimals_times_ids_and_nesting():
    ist = timezone(timedelta(hours=5, minutes=30))
    value = {
        "price": Decimal("10.500"),
        "qty": Decimal("1E+2"),
        "neg_zero": Decimal("-0.00"),
        "at": datetime(2026, 1, 2, 9, 15, tzinfo=ist),
        "day": date(2026, 1, 2),
        "id": uuid.UUID(int=5),
        "legs": ({"p": Decimal("0.05")},),
        1: None,
        "ok": True,
    }
    assert json_safe(value) == {
        "price": "10.5",
        "qty": "100",
        "neg_zero": "0",
        "at": datetime(2026, 1, 2, 3, 45, tzinfo=UTC).isoformat(),
        "day": "2026-01-02",
        "id": str(uuid.UUID(int=5)),
        "legs": [{"p": "0.05"}],
        "1": None,
        "ok": True,
    }


def test_json_safe_refuses_unknown_types():
    with pytest.raises(TypeError):
        json_safe({"obj": object()})
