"""orders/migrations: 0004 moves live Idempotency-Key answers into accounts' table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import IdempotencyKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("orders", "0003_order_account_side_open")
AFTER = ("orders", "0004_delete_idempotencyrecord")


def _migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def test_0004_copies_orders_keys_to_accounts_and_keeps_an_existing_accounts_key():
    # given orders' table holding a finished and an in-flight key, and a key of the same
    # user already in accounts' table under one of those names
    user = UserFactory()
    IdempotencyKey.objects.create(
        user=user, key="both", path="/api/v1/accounts", request_hash="a", status_code=201
    )
    try:
        record = _migrate(BEFORE).get_model("orders", "IdempotencyRecord")
        record.objects.create(
            user_id=user.pk,
            key="done",
            path="/api/v1/orders",
            request_hash="h1",
            status_code=201,
            response_body={"id": "o-1"},
        )
        record.objects.create(
            user_id=user.pk, key="running", path="/api/v1/orders", request_hash="h2"
        )
        record.objects.create(
            user_id=user.pk, key="both", path="/api/v1/orders", request_hash="h3", status_code=201
        )
        # when 0004 runs
        _migrate(AFTER)
    finally:
        # Every app's latest state again, not only orders': going back to 0003 also unapplied
        # the apps that depend on orders (strategies), whose tables later tests need.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    # then the orders keys are in accounts' table as they were; the accounts key is untouched
    rows = {
        row.key: (row.path, row.request_hash, row.status_code, row.response_body)
        for row in IdempotencyKey.objects.filter(user=user)
    }
    assert rows == {
        "done": ("/api/v1/orders", "h1", 201, {"id": "o-1"}),
        "running": ("/api/v1/orders", "h2", None, None),
        "both": ("/api/v1/accounts", "a", 201, None),
    }
    assert "orders_idempotencyrecord" not in connection.introspection.table_names()
