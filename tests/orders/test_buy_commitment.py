"""The buying-power commitment of open buy orders (orders/core/selectors.py), read through
a SELECT compiled once (oms_site/compiled_query.py): it must give exactly what the ORM's
aggregate gives, to the last decimal, for every kind of open and closed order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import GlobalKillSwitch
from accounts.selectors import global_kill_switch_engaged
from oms_site.compiled_query import CompiledSelect
from orders.core.selectors import _REMAINING_VALUE, _committing_buys, open_buy_commitment
from orders.models import Order
from tests.factories import TradingAccountFactory, order_unsaved

pytestmark = pytest.mark.django_db


def _order(account, instrument, **fields) -> Order:
    order = order_unsaved(account, instrument, **fields)
    order.save(force_insert=True)
    return order


def _orm_sum(account) -> Decimal:
    total = _committing_buys().filter(account_id=account.pk).aggregate(v=Sum(_REMAINING_VALUE))
    return Decimal(total["v"] or 0)


def test_an_account_without_open_buys_commits_nothing(acme):
    # given an account with only a filled buy and an open sell
    account = TradingAccountFactory()
    _order(account, acme, status="filled", filled_qty=Decimal("10"))
    _order(account, acme, side="sell")

    # then nothing is committed
    assert open_buy_commitment(account) == Decimal("0")


def test_the_commitment_is_the_orm_sum_to_the_last_decimal(acme):
    # given open buys of odd sizes and prices, partly filled, some without a price yet,
    # one covered by an OCO sibling, and another account's order
    account, other = TradingAccountFactory(), TradingAccountFactory()
    _order(account, acme, qty=Decimal("7.125"), est_price=Decimal("1234.56789"))
    _order(account, acme, qty=Decimal("3"), filled_qty=Decimal("1.5"), status="partially_filled")
    _order(account, acme, est_price=None, type="market", limit_price=None)
    _order(account, acme, status="held", hold_reason="trigger", est_price=Decimal("0.00000001"))
    _order(other, acme, qty=Decimal("999"))

    # when the compiled read and the ORM aggregate are asked
    compiled = open_buy_commitment(account)

    # then they agree exactly, and the other account's order is not in it
    assert compiled == _orm_sum(account)
    assert compiled == Decimal("7.125") * Decimal("1234.56789") + Decimal("1.5") * Decimal(
        "100.05"
    ) + Decimal("10") * Decimal("0.00000001")
    assert open_buy_commitment(other) == Decimal("999") * Decimal("100.05")


def test_excluding_an_order_still_takes_the_orm_path(acme):
    # given two open buys
    account = TradingAccountFactory()
    first = _order(account, acme)
    _order(account, acme, qty=Decimal("2"))

    # then excluding one leaves the other's commitment
    assert open_buy_commitment(account, exclude_order_id=first.pk) == Decimal("2") * Decimal(
        "100.05"
    )


def test_the_global_kill_switch_is_read_as_it_is_now():
    # given the switch off, then engaged, then released
    switch, _ = GlobalKillSwitch.objects.get_or_create(pk=1)
    switch.engaged = False
    switch.save()
    assert global_kill_switch_engaged() is False
    switch.engaged = True
    switch.save()
    assert global_kill_switch_engaged() is True
    switch.engaged = False
    switch.save()
    assert global_kill_switch_engaged() is False


def test_a_parameter_the_query_does_not_use_is_refused():
    # given a compiled select whose parameter never reaches its SQL
    select = CompiledSelect(
        lambda account_id: Order.objects.values_list("pk")[:1],
        account_id=Order._meta.get_field("account").target_field,
    )

    # then compiling it says so instead of silently ignoring the value
    with pytest.raises(ValueError, match="account_id"):
        select.rows(account_id=TradingAccountFactory().pk)
