"""Model field factories so every price, quantity and amount has the same precision."""

from django.db import models


def PriceField(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 8)
    return models.DecimalField(**kwargs)


def QtyField(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 20)
    kwargs.setdefault("decimal_places", 8)
    return models.DecimalField(**kwargs)


def MoneyField(**kwargs) -> models.DecimalField:
    kwargs.setdefault("max_digits", 24)
    kwargs.setdefault("decimal_places", 8)
    return models.DecimalField(**kwargs)
