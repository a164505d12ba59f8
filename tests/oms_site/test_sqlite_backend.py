"""SQLite keeps ~15 significant digits of a decimal; reading a longer one must not crash."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import RiskLimits
from tests.factories import TradingAccountFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="MariaDB/MySQL store decimals exactly"
)


@pytest.mark.django_db
def test_a_decimal_longer_than_sqlite_keeps_reads_back_as_what_sqlite_kept():
    # given a daily-loss limit at the top of its 24,8 column (16 whole digits)
    account = TradingAccountFactory()
    RiskLimits.objects.create(account=account, max_daily_loss=Decimal("9999999999999998"))
    # when the row is read again (SQLite rounds it to 15 digits: 1E+16, 25 digits at 8 places)
    limits = RiskLimits.objects.get(account=account)
    # then it reads as that rounded value instead of raising InvalidOperation
    assert limits.max_daily_loss == Decimal("1E+16")


@pytest.mark.django_db
def test_decimals_within_fifteen_digits_are_exact():
    # given a limit with 15 significant digits
    account = TradingAccountFactory()
    RiskLimits.objects.create(account=account, max_daily_loss=Decimal("1234567.12345678"))
    # when it is read back
    # then it is exactly what was stored
    assert RiskLimits.objects.get(account=account).max_daily_loss == Decimal("1234567.12345678")
