"""accounts/selectors.py: who may reach which account, and the global kill switch."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from accounts.models import GlobalKillSwitch
from accounts.selectors import (
    account_get_for_user,
    account_locked_with_limits,
    global_kill_switch_engaged,
    user_can_trade_any,
)
from oms_site.errors import NotFound, PermissionDenied
from tests.factories import TradingAccountFactory, account_with_member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "level"),
    [
        ("owner", "owner"),
        ("owner", "trade"),
        ("trade", "trade"),
        ("trade", "view"),
        ("view", "view"),
    ],
)
def test_a_member_reaches_the_account_up_to_their_role(trader, role, level):
    # Given a member of an account with `role`
    account = account_with_member(user=trader, role=role)
    # When they ask for it at `level`
    found = account_get_for_user(user=trader, account_id=account.pk, level=level)
    # Then they get the account itself, with their role on it
    assert found.pk == account.pk
    assert found.cash == account.cash
    assert found.member_role == role


@pytest.mark.parametrize(("role", "level"), [("view", "trade"), ("trade", "owner")])
def test_a_member_above_their_role_is_403(trader, role, level):
    account = account_with_member(user=trader, role=role)
    with pytest.raises(PermissionDenied):
        account_get_for_user(user=trader, account_id=account.pk, level=level)


def test_someone_elses_account_is_404_even_for_a_member_of_other_accounts(trader, other_trader):
    # Given the trader is a member of one account and another trader of a second one
    account_with_member(user=trader, role="owner")
    theirs = account_with_member(user=other_trader, role="owner")
    # When the trader asks for the second account
    # Then it does not exist for them
    with pytest.raises(NotFound):
        account_get_for_user(user=trader, account_id=theirs.pk, level="view")


@pytest.mark.parametrize("account_id", ["not-a-uuid", None, 42, uuid.uuid4()])
def test_a_malformed_or_unknown_id_is_404(trader, account_id):
    account_with_member(user=trader, role="owner")
    with pytest.raises(NotFound):
        account_get_for_user(user=trader, account_id=account_id, level="view")


def test_an_admin_reaches_every_account_as_owner(admin_user):
    # Given an account the admin is no member of
    account = TradingAccountFactory()
    # When the admin asks for it at the owner level
    found = account_get_for_user(user=admin_user, account_id=account.pk, level="owner")
    # Then they get it
    assert found.pk == account.pk


def test_the_kill_switch_is_read_fresh_on_every_call():
    # Given the switch released, as read once
    GlobalKillSwitch.load()
    assert global_kill_switch_engaged() is False
    # When it is engaged, then released again
    GlobalKillSwitch.objects.filter(pk=1).update(engaged=True)
    engaged = global_kill_switch_engaged()
    GlobalKillSwitch.objects.filter(pk=1).update(engaged=False)
    # Then each read saw the state of its moment
    assert engaged is True
    assert global_kill_switch_engaged() is False


@pytest.mark.parametrize(("role", "can_trade"), [("view", False), ("trade", True), ("owner", True)])
def test_a_user_may_trade_somewhere_only_with_a_trading_role(trader, role, can_trade):
    # Given a member of one account with `role` (and someone else's account they may not see)
    account_with_member(user=trader, role=role)
    TradingAccountFactory()
    # Then trading pages are for them only if that role may trade
    assert user_can_trade_any(user=trader) is can_trade


def test_an_admin_may_trade_once_any_account_exists(admin_user):
    assert user_can_trade_any(user=admin_user) is False
    TradingAccountFactory()
    assert user_can_trade_any(user=admin_user) is True


@pytest.mark.parametrize(("role", "allowed"), [("owner", True), ("trade", True), ("view", False)])
def test_the_locked_read_of_a_placement_is_the_same_account_with_its_limits(
    trader, other_trader, role, allowed
):
    # Given a member of an account with risk limits, and another trader's account
    from django.db import transaction

    from tests.factories import RiskLimitsFactory

    account = account_with_member(user=trader, role=role)
    limits = RiskLimitsFactory(account=account)
    limits.max_order_qty = Decimal("123.5")
    limits.save()
    theirs = account_with_member(user=other_trader, role="owner")
    with transaction.atomic():
        # When a placement reads it locked, with its risk limits (the compiled query)
        if not allowed:
            with pytest.raises(PermissionDenied):
                account_locked_with_limits(user=trader, account_id=account.pk)
            return
        found = account_locked_with_limits(user=trader, account_id=str(account.pk))
        # Then it is the account as the ORM reads it, its limits and the member's role on it
        assert found == account
        assert found.cash == account.cash and found.name == account.name
        assert found.member_role == role
        assert found.risk_limits.pk == limits.pk
        assert found.risk_limits.max_order_qty == limits.max_order_qty
        # and another trader's account, or an unknown or malformed id, is not found
        for missing in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
            with pytest.raises(NotFound):
                account_locked_with_limits(user=trader, account_id=missing)
