"""Kite ↔ OMS mapping: symbols both ways, tags, session expiry, statuses."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from execution.adapters import kite_mapping as km
from execution.adapters.kite import KiteBroker
from execution.protocol import ReportType
from tests.execution.brokers.conftest import kite_account_make
from tests.execution.factories import order_request
from tests.marketdata.factories import InstrumentFactory


def test_an_instruments_kite_symbol_is_sent_and_mapped_back(kite_fake, nse):
    # given an OMS instrument named differently at Kite
    InstrumentFactory(symbol="INFOSYS", exchange=nse, broker_symbols={"kite": "NSE:INFY"})
    account = kite_account_make(kite_fake)
    kite = KiteBroker()
    request = order_request(
        broker="kite",
        account_id=str(account.pk),
        symbol="INFOSYS",
        side="sell",
        qty="2",
        type="market",
    )
    # when it is traded
    broker_id = kite.submit(request)[0].broker_order_id
    # then Kite saw NSE:INFY, and OMS reads it back as INFOSYS
    sent = kite_fake.book.orders[broker_id]
    assert (sent["exchange"], sent["tradingsymbol"], sent["transaction_type"]) == (
        "NSE",
        "INFY",
        "SELL",
    )
    assert [p.symbol for p in kite.positions(account_id=str(account.pk))] == ["INFOSYS"]
    fill = kite.poll_reports(account_id=str(account.pk))
    assert [(r.type, r.fill_price) for r in fill] == [(ReportType.FILL, Decimal("1500"))]


def test_an_instrument_without_a_kite_symbol_uses_its_exchange_code(nse):
    InstrumentFactory(symbol="TCS", exchange=nse)
    assert km.kite_symbol(symbol="TCS") == ("NSE", "TCS")
    assert km.oms_symbol(exchange="NSE", tradingsymbol="TCS") == "TCS"
    assert km.oms_symbol(exchange="BSE", tradingsymbol="UNLISTED") == "UNLISTED"
    with pytest.raises(ValueError, match="Unknown instrument"):
        km.kite_symbol(symbol="NOPE")


def test_tags_are_20_characters_unique_per_order():
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    tags = {km.order_tag(order_id) for order_id in ids}
    assert len(tags) == 1000 and {len(tag) for tag in tags} == {20}
    assert km.order_tag("not-a-uuid") == km.order_tag("not-a-uuid") != km.order_tag("other")


@pytest.mark.parametrize(
    ("now", "expires"),
    [
        ("2026-12-05T05:59:00+05:30", "2026-12-05T06:00:00+05:30"),
        ("2026-12-05T06:00:00+05:30", "2026-12-06T06:00:00+05:30"),
        ("2026-12-05T20:00:00+00:00", "2026-12-06T06:00:00+05:30"),  # 01:30 IST next day
    ],
)
def test_a_session_lasts_until_the_next_0600_ist(now, expires):
    assert km.session_expiry(now=datetime.fromisoformat(now)) == datetime.fromisoformat(expires)


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("OPEN", 0, "new"),
        ("OPEN", 3, "partially_filled"),
        ("TRIGGER PENDING", 0, "pending_new"),
        ("VALIDATION PENDING", 0, "pending_new"),
        ("UPDATE", 2, "partially_filled"),
        ("CANCEL PENDING", 0, "pending_cancel"),
        ("COMPLETE", 5, "filled"),
        ("CANCELLED", 2, "canceled"),
        ("REJECTED", 0, "rejected"),
    ],
)
def test_kite_statuses_map_to_oms_statuses(status, filled, expected):
    assert km.oms_status({"status": status, "filled_quantity": filled}) == expected
