"""The environment of a real stack started by an integration test."""

from __future__ import annotations

import os
from collections.abc import Mapping


def real_stack_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the test runner's variables (a real stack: no
    pytest-xdist worker id, no eager tasks), plus `overrides`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "CELERY_BROKER_URL", "OMS_CELERY_EAGER"))
    }
    env.update({"PYTHONUNBUFFERED": "1", **overrides})
    return env
