"""One way to take row locks: in primary-key order, locking only the rows of the model asked for.

Two transactions that lock the same rows in the same (pk) order cannot deadlock on them.
`of=("self",)` keeps a `select_related` join from locking the joined rows too (DESIGN.md); the
databases that cannot say `FOR UPDATE OF` (MariaDB, SQLite) lock only the rows the query
returns anyway on a plain `FOR UPDATE` of a single table, and Django refuses `of` there, so
it is asked only where the database supports it.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import connections
from django.db.models import Model, QuerySet

ModelT = TypeVar("ModelT", bound=Model)


def _lockable(queryset: QuerySet[ModelT], *, skip_locked: bool, nowait: bool) -> QuerySet[ModelT]:
    features = connections[queryset.db].features
    if getattr(features, "has_select_for_update_of", False):
        return queryset.select_for_update(of=("self",), skip_locked=skip_locked, nowait=nowait)
    return queryset.select_for_update(skip_locked=skip_locked, nowait=nowait)


def lock_rows(
    queryset: QuerySet[ModelT],
    *,
    skip_locked: bool = False,
    nowait: bool = False,
    limit: int | None = None,
) -> list[ModelT]:
    """Lock and return the queryset's rows in pk order (call inside `transaction.atomic`);
    `limit`: at most that many (with `skip_locked`: the first that are free)."""
    rows = _lockable(queryset, skip_locked=skip_locked, nowait=nowait).order_by("pk")
    return list(rows if limit is None else rows[:limit])


def lock_one(queryset: QuerySet[ModelT], *, pk: object) -> ModelT:
    """Lock one row by pk; raises the model's DoesNotExist when it is gone."""
    return _lockable(queryset.filter(pk=pk), skip_locked=False, nowait=False).get()


def lock_one_or_none(queryset: QuerySet[ModelT], *, pk: object) -> ModelT | None:
    return _lockable(queryset.filter(pk=pk), skip_locked=False, nowait=False).first()


def lock_query(queryset: QuerySet[ModelT]) -> QuerySet[ModelT]:
    """The queryset, locking the rows it reads (one row by pk, or rows already in order)."""
    return _lockable(queryset, skip_locked=False, nowait=False)


def locking(queryset: QuerySet[ModelT]) -> QuerySet[ModelT]:
    """The queryset, locking in pk order, for callers that iterate or slice it themselves."""
    return _lockable(queryset, skip_locked=False, nowait=False).order_by("pk")
