"""factory_boy factories for accounts; other apps keep theirs in tests/<app>/factories.py."""

from __future__ import annotations

from decimal import Decimal

import factory

from accounts import services as account_services
from accounts.models import AccountMembership, RiskLimits, TradingAccount, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = "trader"
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TradingAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TradingAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    broker = "paper"
    currency = "INR"
    starting_cash = Decimal("1000000")
    cash = Decimal("1000000")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountMembership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory)
    role = "owner"


class RiskLimitsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskLimits
        django_get_or_create = ("account",)

    account = factory.SubFactory(TradingAccountFactory)


class ApiKeyFactory:
    @staticmethod
    def issue(*, user: User, **kwargs) -> account_services.IssuedApiKey:
        return account_services.api_key_create(user=user, **kwargs)


def account_with_member(*, user: User, role: str = "owner", **account_kwargs) -> TradingAccount:
    account = TradingAccountFactory(**account_kwargs)
    MembershipFactory(user=user, account=account, role=role)
    RiskLimitsFactory(account=account)
    return account


def order_unsaved(account, instrument, **fields):
    """A new order, not stored yet: a buy limit of 10 at 100 (est. 100.05), day, new."""
    from orders.models import Order

    values = {
        "account": account,
        "instrument": instrument,
        "symbol": instrument.symbol,
        "side": "buy",
        "type": "limit",
        "qty": Decimal("10"),
        "limit_price": Decimal("100"),
        "est_price": Decimal("100.05"),
        "time_in_force": "day",
        "status": "new",
    }
    values.update(fields)
    return Order(**values)
