"""Row locks: in pk order, only the rows asked for, usable on every supported database."""

import pytest
from django.db import transaction

from accounts.models import TradingAccount
from oms_site.locks import lock_one, lock_one_or_none, lock_rows, locking
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_lock_rows_returns_rows_in_pk_order():
    # given three accounts created in some order
    accounts = [TradingAccountFactory() for _ in range(3)]
    # when they are locked together
    with transaction.atomic():
        locked = lock_rows(TradingAccount.objects.filter(pk__in=[a.pk for a in accounts]))
    # then they come back in the database's pk order (the order every locker uses; MariaDB's
    # native UUID type does not sort like Python's UUID, so the database is the reference)
    in_pk_order = TradingAccount.objects.filter(pk__in=[a.pk for a in accounts]).order_by("pk")
    assert [a.pk for a in locked] == list(in_pk_order.values_list("pk", flat=True))
    assert len(locked) == 3


def test_lock_one_and_missing_row():
    account = TradingAccountFactory()
    with transaction.atomic():
        assert lock_one(TradingAccount.objects, pk=account.pk) == account
        assert lock_one_or_none(TradingAccount.objects, pk=account.pk) == account
        TradingAccount.objects.filter(pk=account.pk).update(name="x")
    with transaction.atomic():
        with pytest.raises(TradingAccount.DoesNotExist):
            lock_one(TradingAccount.objects.none(), pk=account.pk)
        assert lock_one_or_none(TradingAccount.objects.none(), pk=account.pk) is None


def test_locking_with_a_join_runs_on_this_database():
    # select_related + FOR UPDATE [OF self where supported] must be valid SQL here
    account = TradingAccountFactory()
    with transaction.atomic():
        rows = list(locking(TradingAccount.objects.select_related("connection")))
    assert account in rows
