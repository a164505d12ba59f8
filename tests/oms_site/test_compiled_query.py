"""oms_site/compiled_query.py: a SELECT compiled once keeps the QuerySet's meaning."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from accounts.models import TradingAccount
from oms_site.compiled_query import CompiledSelect
from oms_site.locks import lock_query
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.django_db

BY_PK = CompiledSelect(
    lambda account_id: TradingAccount.objects.filter(pk=account_id),
    account_id=TradingAccount._meta.pk,
)
LOCKED_BY_PK = CompiledSelect(
    lambda account_id: lock_query(TradingAccount.objects.filter(pk=account_id)),
    account_id=TradingAccount._meta.pk,
)


def test_instances_are_what_the_queryset_gives_for_each_value():
    # given two accounts
    first, second = TradingAccountFactory(name="first"), TradingAccountFactory(name="second")

    # when the compiled select runs with each id in turn
    got = [BY_PK.instances(account_id=account.pk)[0] for account in (first, second, first)]

    # then each run reads its own row, as the ORM does, field for field
    assert [a.name for a in got] == ["first", "second", "first"]
    orm = TradingAccount.objects.get(pk=second.pk)
    assert {
        f.attname: getattr(got[1], f.attname) for f in TradingAccount._meta.concrete_fields
    } == {f.attname: getattr(orm, f.attname) for f in TradingAccount._meta.concrete_fields}


@pytest.mark.django_db(transaction=True)  # autocommit between the test's statements
def test_a_locking_select_is_refused_outside_a_transaction_where_the_database_locks():
    # given an account and a compiled SELECT ... FOR UPDATE, compiled inside a transaction
    account = TradingAccountFactory()
    with transaction.atomic():
        assert LOCKED_BY_PK.instances(account_id=account.pk)[0].pk == account.pk

    # when it runs outside one
    if not connection.features.has_select_for_update:
        assert LOCKED_BY_PK.instances(account_id=account.pk)[0].pk == account.pk  # SQLite
        return
    # then, as Django's own select_for_update, it is refused rather than locking nothing
    with pytest.raises(TransactionManagementError):
        LOCKED_BY_PK.instances(account_id=account.pk)
