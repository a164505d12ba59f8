"""A serializer's representation of one instance without building the serializer again.

`SomeSerializer(instance).data` deep-copies every declared field and introspects the model
for each new serializer: in a burst of hundreds of pushes and notifications that costs more
than the representations themselves. One unbound instance per serializer class and process
serves them all; `to_representation` only reads its fields (no request in its context)."""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework.serializers import BaseSerializer


@cache
def _shared(serializer_class: type[BaseSerializer]) -> BaseSerializer:
    return serializer_class()


def represent(serializer_class: type[BaseSerializer], instance: Any) -> dict[str, Any]:
    """`serializer_class(instance).data`, as a plain dict, from a shared unbound instance."""
    return _shared(serializer_class).to_representation(instance)
