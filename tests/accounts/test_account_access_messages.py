"""A member below the level an action needs is told so in words (403)."""

from __future__ import annotations

import pytest

from accounts.selectors import account_get_for_user
from oms_site.errors import PermissionDenied
from tests.factories import UserFactory, account_with_member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "level", "message"),
    [
        ("trade", "owner", "Only an owner of this account may do this."),
        ("view", "owner", "Only an owner of this account may do this."),
        ("view", "trade", "You may not trade on this account."),
    ],
)
def test_the_refusal_reads_as_a_sentence(role, level, message):
    user = UserFactory(role="trader")
    account = account_with_member(user=user, role=role)
    with pytest.raises(PermissionDenied) as refused:
        account_get_for_user(user=user, account_id=account.pk, level=level)
    assert refused.value.message == message


def test_a_trade_member_renaming_the_account_gets_the_owner_message(make_key_client):
    # given a member who may trade on an account but does not own it
    user = UserFactory(role="trader")
    account = account_with_member(user=user, role="trade", name="Desk")
    # when they rename it
    response = make_key_client(user).patch(
        f"/api/v1/accounts/{account.pk}", {"name": "Mine now"}, format="json"
    )
    # then the 403 says who may
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only an owner of this account may do this."
