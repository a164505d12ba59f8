"""oms_site/compiled_query.py: a SELECT compiled once keeps the QuerySet's meaning."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError

from accounts.models import TradingAccount
from oms_site.compiled_query import CompiledSelect, insert_new, update_saved
from oms_site.locks import lock_query
from tests.factories import TradingAccountFactory, order_unsaved

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


@pytest.fixture
def account_and_instrument():
    from tests.marketdata.factories import ExchangeFactory, InstrumentFactory

    return TradingAccountFactory(), InstrumentFactory(symbol="ACME", exchange=ExchangeFactory())


def _new_order(account, instrument, **fields):
    return order_unsaved(account, instrument, **{"qty": Decimal("7.125"), "tag": "t", **fields})


def _stored(model, pk) -> dict:
    obj = model.objects.get(pk=pk)
    return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}


def test_an_inserted_row_reads_back_as_the_orms_own_insert(account_and_instrument):
    # given two orders alike, one saved by the ORM and one through insert_new
    from orders.models import Order

    by_orm, compiled = _new_order(*account_and_instrument), _new_order(*account_and_instrument)
    by_orm.save(force_insert=True)
    insert_new([compiled])

    # then both read back the same, field for field, but for their own key and timestamps
    differ = {"id", "created_at", "updated_at"}
    mine, theirs = _stored(Order, compiled.pk), _stored(Order, by_orm.pk)
    assert {k: v for k, v in mine.items() if k not in differ} == {
        k: v for k, v in theirs.items() if k not in differ
    }
    assert mine["created_at"] is not None and mine["updated_at"] is not None
    assert not compiled._state.adding


def test_an_auto_key_row_gets_its_key_as_save_gives_it(account_and_instrument):
    # given a new order and its created event (an auto-increment key)
    from orders.models import OrderEvent

    order = _new_order(*account_and_instrument, type="market", limit_price=None)
    insert_new([order])
    event = OrderEvent(order=order, seq=1, type="created", at=order.created_at, data={"a": [1]})

    # when the event is inserted
    insert_new([event])

    # then it has the key the database gave it, and reads back as written
    assert event.pk is not None
    stored = OrderEvent.objects.get(pk=event.pk)
    assert stored.order_id == order.pk and stored.data == {"a": [1]}


def test_several_rows_go_in_one_statement_and_a_wrong_use_is_refused(account_and_instrument):
    from orders.models import Order, OrderEvent

    account, instrument = account_and_instrument
    orders = [_new_order(account, instrument, qty=Decimal(n + 1)) for n in range(3)]
    insert_new(orders)
    stored = Order.objects.filter(account=account).values_list("qty", flat=True)
    assert sorted(stored) == [Decimal(1), Decimal(2), Decimal(3)]

    first = orders[0]
    events = [OrderEvent(order=first, seq=n, type="created", at=first.created_at) for n in (1, 2)]
    insert_new(events, keys=False)  # several auto-key rows, when nobody reads their keys
    assert list(OrderEvent.objects.filter(order=first).values_list("seq", flat=True)) == [1, 2]
    with pytest.raises(TypeError):  # auto keys: one at a time
        insert_new(
            [OrderEvent(order=first, seq=n, type="created", at=first.created_at) for n in (1, 2)]
        )
    with pytest.raises(TypeError):  # a value computed by the database is not a value
        insert_new([_new_order(account, instrument, qty=F("filled_qty"))])
    with pytest.raises(TypeError):  # a model that saves its own way

        class Custom(Session):
            class Meta:
                proxy = True
                app_label = "sessions"

            def save(self, *args, **kwargs):
                super().save(*args, **kwargs)

        insert_new([Custom(session_key="k", session_data="d", expire_date=first.created_at)])


def test_an_update_of_named_fields_saves_those_and_nothing_else(account_and_instrument):
    # given a stored order changed in memory: two fields named, one not
    from orders.models import Order

    order = _new_order(*account_and_instrument)
    insert_new([order])
    order.status, order.filled_qty, order.tag = "filled", Decimal("7.125"), "not saved"

    # when the named fields are saved
    update_saved(order, fields=("filled_qty", "status"))

    # then those changed in the database, the other did not
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.filled_qty, stored.tag) == ("filled", Decimal("7.125"), "t")


def test_an_update_of_a_row_that_is_gone_fails_as_save_does(account_and_instrument):
    # given an order deleted behind this instance's back
    from django.db import DatabaseError

    from orders.models import Order

    order = _new_order(*account_and_instrument)
    insert_new([order])
    Order.objects.filter(pk=order.pk).delete()

    # then saving it says so, as save(update_fields=...) does
    with pytest.raises(DatabaseError):
        update_saved(order, fields=("status",))
