"""Broker credentials at rest: encrypted, never plaintext in the database, rotatable."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import broker_connections, selectors, services
from accounts.models import BrokerConnection

pytestmark = pytest.mark.django_db

SECRET = {"api_key": "AK-live-123", "api_secret": "very-secret-value"}


def _raw_token(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials_encrypted FROM accounts_brokerconnection WHERE id = %s",
            [BrokerConnection._meta.pk.get_db_prep_value(pk, connection)],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def two_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.OMS_FERNET_KEYS = [old]
    return old, new


def test_the_database_column_holds_no_plaintext(two_keys, trader):
    # Given an account opened with credentials
    account = services.account_create(
        actor=trader,
        name="Live",
        broker="exchange",
        starting_cash=Decimal("1"),
        credentials=SECRET,
    )
    # When the column is read with raw SQL
    token = _raw_token(account.connection_id)
    # Then neither values nor keys appear in it, yet the app can decrypt it
    assert token
    for text in ("AK-live-123", "very-secret-value", "api_secret"):
        assert text not in token
    assert selectors.broker_connection_credentials(connection=account.connection) == SECRET


def test_repr_and_str_never_show_credentials(two_keys, trader):
    conn = broker_connections.broker_connection_create(
        name="C", broker="paper", owner=trader, credentials=SECRET
    )
    assert "very-secret" not in repr(conn) and "very-secret" not in str(conn)
    assert conn.credentials_encrypted not in repr(conn)


def test_rotation_re_encrypts_with_the_new_key_and_keeps_data(settings, two_keys, trader):
    old, new = two_keys
    # Given credentials encrypted with the old key
    conn = broker_connections.broker_connection_create(
        name="C", broker="paper", owner=trader, credentials=SECRET
    )
    before = _raw_token(conn.pk)
    # When a new key is prepended and the rotation command runs
    settings.OMS_FERNET_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    # Then it reports the count, the stored token changed, and it still decrypts
    assert "Re-encrypted 1 broker connection" in out.getvalue()
    after = _raw_token(conn.pk)
    assert after != before
    conn.refresh_from_db()
    assert selectors.broker_connection_credentials(connection=conn) == SECRET
    # And the new key alone can read it: the old key can be retired
    settings.OMS_FERNET_KEYS = [new]
    assert selectors.broker_connection_credentials(connection=conn) == SECRET
    assert Fernet(new.encode()).decrypt(after.encode())


def test_rotation_with_a_missing_key_fails_and_changes_nothing(settings, two_keys, trader):
    _old, new = two_keys
    conn = broker_connections.broker_connection_create(
        name="C", broker="paper", owner=trader, credentials=SECRET
    )
    before = _raw_token(conn.pk)
    # Given the key that encrypted it is no longer configured
    settings.OMS_FERNET_KEYS = [new]
    # When rotating, then it fails loudly and leaves the token alone
    with pytest.raises(CommandError):
        call_command("rotate_credentials", stdout=StringIO())
    assert _raw_token(conn.pk) == before


def test_replacing_credentials(two_keys, trader):
    conn = broker_connections.broker_connection_create(name="C", broker="paper", owner=trader)
    assert not conn.has_credentials
    broker_connections.broker_connection_set_credentials(
        connection=conn, credentials={"token": "t-1"}, actor=trader
    )
    conn.refresh_from_db()
    assert conn.has_credentials
    assert selectors.broker_connection_credentials(connection=conn) == {"token": "t-1"}
    assert "t-1" not in _raw_token(conn.pk)
    assert BrokerConnection.objects.get(pk=conn.pk).status == "unknown"
