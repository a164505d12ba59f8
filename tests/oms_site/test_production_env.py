"""Production fails fast: with OMS_ENV=production a missing DATABASE_URL or REDIS_URL stops
the start (settings import, and the run command before it would start an embedded Redis)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from oms_site.production import environment_with_dotenv, production_env_problem


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        OMS_ENV="production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        OMS_FERNET_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="oms.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",  # never contacted by these checks
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None and v != "<unset>"}


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


_SETUP = "import django; django.setup(); print('configured')"


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_settings_refuse_to_load_without_a_service_url(tmp_path, missing):
    # Given production settings without one of the two service URLs
    env = _production_env(tmp_path, **{missing: "<unset>"})
    # When Django loads them
    result = _python(env, "-c", _SETUP)
    # Then it stops with ImproperlyConfigured naming the variable, before anything runs
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert f"{missing} is not set" in result.stderr
    assert "configured" not in result.stdout


def test_an_empty_value_is_as_missing_as_none(tmp_path):
    result = _python(_production_env(tmp_path, REDIS_URL=""), "-c", _SETUP)
    assert result.returncode != 0
    assert "REDIS_URL is not set" in result.stderr


def test_production_settings_load_with_both_urls(tmp_path):
    result = _python(_production_env(tmp_path), "-c", _SETUP)
    assert result.returncode == 0, result.stderr
    assert "configured" in result.stdout


def test_outside_production_the_embedded_defaults_still_apply(tmp_path):
    # Given development without either URL, then the settings load (SQLite, no Redis)
    env = _production_env(
        tmp_path, OMS_ENV="development", DATABASE_URL="<unset>", REDIS_URL="<unset>"
    )
    probe = _SETUP + "; from django.conf import settings; print(settings.REDIS_URL == '')"
    result = _python(env, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["configured", "True"]


def test_the_run_command_says_what_is_missing_and_exits_before_starting_anything(tmp_path):
    # Given production without both URLs, and the port the stack would use already taken
    # (so that, were the check missing, the run command would stop anyway, not start a stack)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = _production_env(
            tmp_path, DATABASE_URL="<unset>", REDIS_URL="<unset>", HOST="127.0.0.1", PORT=port
        )
        # When the supervisor starts
        result = _python(env, "-m", "oms_site.run")
    # Then it prints both names and exits non-zero, without a traceback or an embedded Redis
    assert result.returncode == 1
    assert "cannot start the stack: DATABASE_URL and REDIS_URL are not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert "embedded redis" not in result.stdout + result.stderr


def test_the_check_reads_the_dotenv_file_as_the_settings_do(tmp_path):
    # Given a .env that sets REDIS_URL, and an environment that sets DATABASE_URL itself
    dotenv = tmp_path / ".env"
    dotenv.write_text("REDIS_URL=redis://cache:6379/0\nDATABASE_URL=sqlite:///ignored\n")
    env = {"OMS_ENV": "production", "DATABASE_URL": "mysql://db/oms"}
    merged = environment_with_dotenv(env, dotenv)
    # Then the file fills in what is missing without overriding what is set
    assert merged["REDIS_URL"] == "redis://cache:6379/0"
    assert merged["DATABASE_URL"] == "mysql://db/oms"
    assert production_env_problem(merged) is None
    assert env == {"OMS_ENV": "production", "DATABASE_URL": "mysql://db/oms"}  # not changed
    # And without the file REDIS_URL is reported
    assert "REDIS_URL is not set" in production_env_problem(env)
