"""Values between Python and the driver for pnl/ledger_sql.py: parameters converted the
way the model fields convert them (without the ORM's per-call overhead), and decimal
columns read back exactly as the ORM reads them."""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import DecimalField, Field

_FLOAT_TO_DECIMAL = decimal.Context(prec=15).create_decimal_from_float
_BASE_ADAPT_DECIMAL = BaseDatabaseOperations.adapt_decimalfield_value
# Field types whose Python values the drivers take as they are.
_AS_IS = frozenset(
    ("CharField", "PositiveIntegerField", "IntegerField", "BigIntegerField", "AutoField",
     "BigAutoField")
)  # fmt: skip
MEMO_SIZE = 64


def same(value: Any) -> Any:
    return value


def preparer(field: Field, memo: dict[Any, Any] | None = None) -> Callable[[Any], Any]:
    """How `field` turns a Python value into a query parameter (what get_db_prep_save does,
    without its per-call overhead for the types that need no conversion). `same` where
    the value goes to the driver as it is. `memo`: adapted values shared by the statements
    (one booking writes the same account, instrument, fill ids and datetimes into several
    rows and fields)."""
    memo = {} if memo is None else memo

    def memoized(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def prep(value: Any) -> Any:
            if value is None:
                return None
            adapted = memo.get(value)
            if adapted is None:
                if len(memo) > MEMO_SIZE:
                    memo.clear()
                adapted = memo[value] = adapt(value)
            return adapted

        return prep

    if isinstance(field, DecimalField):
        adapt = connection.ops.adapt_decimalfield_value
        if type(connection.ops).adapt_decimalfield_value is _BASE_ADAPT_DECIMAL:
            return same  # the driver takes Decimals (every backend Django ships)
        places, digits = field.decimal_places, field.max_digits

        def prep_decimal(value: Any) -> Any:
            return None if value is None else adapt(value, digits, places)

        return prep_decimal
    kind = field.get_internal_type()
    target = field.target_field if field.is_relation else field
    target_kind = target.get_internal_type()
    if target_kind in _AS_IS:
        return same
    if target_kind == "UUIDField":
        if connection.features.has_native_uuid_field:
            return memoized(
                lambda value: value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
            )
        return memoized(
            lambda value: (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).hex
        )
    if kind == "DateTimeField":
        return memoized(connection.ops.adapt_datetimefield_value)
    if kind == "DateField":
        return connection.ops.adapt_datefield_value
    return lambda value: field.get_db_prep_save(value, connection)


@cache
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def read_decimal(value: Any, field: Field) -> Decimal | None:
    """A decimal column as the ORM returns it (SQLite keeps 15 significant digits)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return _FLOAT_TO_DECIMAL(value).quantize(
            _quantum(field.decimal_places), context=field.context
        )
    return Decimal(str(value))
