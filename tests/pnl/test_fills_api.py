"""GET /api/v1/fills: the ledger of the accounts the caller may see, filterable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from pnl.services import fill_record
from tests.factories import UserFactory, account_with_member
from tests.marketdata.factories import InstrumentFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/fills"
ORDER_A = "00000000-0000-0000-0000-00000000000a"
ORDER_B = "00000000-0000-0000-0000-00000000000b"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ledger(trader):
    acme = InstrumentFactory(symbol="ACME")
    foo = InstrumentFactory(symbol="FOO")
    mine = account_with_member(user=trader)
    theirs = account_with_member(user=UserFactory(username="someone"))
    now = timezone.now()

    def book(account, instrument, order_id, report_id, side="buy", qty="10", price="100.5"):
        return fill_record(
            order_id=order_id,
            account_id=account.pk,
            instrument_id=instrument.pk,
            symbol=instrument.symbol,
            side=side,
            qty=Decimal(qty),
            price=Decimal(price),
            fee=Decimal("1.25"),
            liquidity="taker",
            ts=now,
            report_id=report_id,
        )

    return {
        "mine": mine,
        "a1": book(mine, acme, ORDER_A, "r1"),
        "a2": book(mine, foo, ORDER_B, "r2", side="sell", qty="3", price="20"),
        "other": book(theirs, acme, ORDER_A, "r3"),
    }


def ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_fill_shape(make_key_client, trader, ledger):
    body = make_key_client(trader).get(URL + f"?order={ORDER_A}").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row == {
        "id": str(ledger["a1"].pk),
        "order_id": ORDER_A,
        "account": str(ledger["mine"].pk),
        "symbol": "ACME",
        "side": "buy",
        "qty": "10",
        "price": "100.5",
        "fee": "1.25",
        "liquidity": "taker",
        "ts": row["ts"],
        "external": False,  # booked for an order OMS placed, not imported from the broker
    }
    assert row["ts"].endswith("Z")


def test_filters_and_visibility(make_key_client, trader, ledger):
    client = make_key_client(trader)
    assert ids(client.get(URL)) == {str(ledger["a1"].pk), str(ledger["a2"].pk)}
    assert ids(client.get(URL + "?symbol=foo")) == {str(ledger["a2"].pk)}
    assert ids(client.get(URL + f"?account={ledger['mine'].pk}&symbol=ACME")) == {
        str(ledger["a1"].pk)
    }
    # another user's account simply shows nothing
    other_account = ledger["other"].account_id
    assert ids(client.get(URL + f"?account={other_account}")) == set()


def test_admin_sees_all_fills(make_key_client, admin_user, ledger):
    assert len(ids(make_key_client(admin_user).get(URL))) == 3


def test_bad_ids_are_400_and_no_auth_is_401(make_key_client, api_client, trader, ledger):
    assert make_key_client(trader).get(URL + "?order=nope").status_code == 400
    assert api_client.get(URL).status_code == 401


def test_a_report_id_books_one_fill_only(ledger):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        fill_record(
            order_id=ORDER_A,
            account_id=ledger["mine"].pk,
            instrument_id=ledger["a1"].instrument_id,
            symbol="ACME",
            side="buy",
            qty=Decimal("1"),
            price=Decimal("1"),
            ts=timezone.now(),
            report_id="r1",
        )
