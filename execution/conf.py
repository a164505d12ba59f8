"""Execution settings read at call time (tests override them with the `settings` fixture)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def _decimal(name: str, default: str = "0") -> Decimal:
    return Decimal(str(getattr(settings, name, default)))


def paper_slippage_bps() -> Decimal:
    return _decimal("OMS_PAPER_SLIPPAGE_BPS")


def paper_fee_bps() -> Decimal:
    return _decimal("OMS_PAPER_FEE_BPS")


def paper_fee_fixed() -> Decimal:
    return _decimal("OMS_PAPER_FEE_FIXED")


def exchange_fee_bps(liquidity: str) -> Decimal:
    fees = getattr(settings, "OMS_EXCHANGE_FEE_BPS", {}) or {}
    return Decimal(str(fees.get(liquidity, "0")))


def exchange_shards() -> int:
    return max(1, int(getattr(settings, "OMS_EXCHANGE_SHARDS", 1)))


def lease_ttl_s() -> int:
    return max(2, int(getattr(settings, "OMS_EXCHANGE_LEASE_TTL_S", 15)))


def broker_policy_overrides(broker: str) -> dict:
    policies = getattr(settings, "OMS_BROKER_POLICIES", {}) or {}
    merged = dict(policies.get("*", {}))
    merged.update(policies.get(broker, {}))
    return merged
