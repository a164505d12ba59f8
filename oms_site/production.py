"""What production refuses to start without (OMS_ENV=production).

Without DATABASE_URL the stack would silently run on the SQLite file under var/, and without
REDIS_URL on an embedded Redis (the run command) or with tasks run inline in the web process
(everything else): fine on a laptop, data loss and a stalled exchange in production. Both
the settings (ImproperlyConfigured on import) and `python -m oms_site.run` (before it would
start an embedded Redis) ask `production_env_problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import environ

REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "REDIS_URL")


def production_env_problem(env: Mapping[str, str]) -> str | None:
    """A sentence naming the missing variables when `env` is production, else None."""
    if env.get("OMS_ENV", "development") != "production":
        return None
    missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name, "").strip()]
    if not missing:
        return None
    names = " and ".join(missing)
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{names} {verb} not set: with OMS_ENV=production the stack needs a real database "
        "(DATABASE_URL, e.g. mysql://user:password@host:3306/oms) and a real Redis "
        "(REDIS_URL, e.g. redis://host:6379/0); it does not fall back to SQLite, an embedded "
        "Redis or tasks run inline."
    )


def environment_with_dotenv(env: Mapping[str, str], dotenv: Path) -> dict[str, str]:
    """`env` plus what the `.env` file adds, read as the settings read it (the file never
    overrides a variable that is set)."""

    class _Reader(environ.Env):
        ENVIRON = dict(env)  # read_env fills this instead of os.environ

    _Reader.read_env(dotenv, overwrite=False)
    return dict(_Reader.ENVIRON)
