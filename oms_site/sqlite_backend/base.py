"""Django's SQLite backend, reading decimals without crashing on its own rounding.

SQLite keeps about 15 significant digits of a decimal column (it stores a float), and
Django rounds what it reads to 15 digits, then to the column's decimal places within the
column's max_digits. A value stored with more digits can round up past max_digits
(9999999999999998 in a 24,8 column reads as 1E+16, which needs 25 digits) and Django raises
InvalidOperation on every later read of that row: a 500 on the row's account for good.
Here the final quantize has room for that one extra digit, so the row reads as the value
SQLite kept. MariaDB/MySQL store decimals exactly and use Django's backend unchanged.
"""

from __future__ import annotations

import decimal
from typing import Any

from django.db.backends.sqlite3 import base as sqlite_base
from django.db.backends.sqlite3.operations import DatabaseOperations as SqliteOperations
from django.db.models.expressions import Col

SQLITE_DIGITS = 15  # what SQLite keeps (Django's own reading context)


class DatabaseOperations(SqliteOperations):
    def get_decimalfield_converter(self, expression: Any) -> Any:
        if not isinstance(expression, Col):
            return super().get_decimalfield_converter(expression)
        create_decimal = decimal.Context(prec=SQLITE_DIGITS).create_decimal_from_float
        field = expression.output_field
        quantize_value = decimal.Decimal(1).scaleb(-field.decimal_places)
        # One digit more than the column: rounding to 15 digits can carry into a new one.
        context = decimal.Context(prec=(field.max_digits or SQLITE_DIGITS) + 1)

        def converter(value: Any, expression: Any, connection: Any) -> decimal.Decimal | None:
            if value is None:
                return None
            return create_decimal(value).quantize(quantize_value, context=context)

        return converter


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    ops_class = DatabaseOperations
