"""Factories for notifications tests."""

from __future__ import annotations

import factory

from notifications.models import Notification
from tests.factories import UserFactory


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    kind = "order.filled"
    level = "info"
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Something happened."
    data = factory.LazyFunction(dict)
