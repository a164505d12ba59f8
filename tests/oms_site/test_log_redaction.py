"""API keys passed as `?token=` never reach the web server's logs."""

from __future__ import annotations

import logging

import pytest

from oms_site.log_redaction import (
    QuerySecretRedactionFilter,
    install_query_secret_redaction,
    redact_query_secrets,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ws/stream/?token=abc.DEF-123", "/ws/stream/?token=[redacted]"),
        ("/ws/stream/?x=1&token=abc&y=2", "/ws/stream/?x=1&token=[redacted]&y=2"),
        ("/api/v1/orders?TOKEN=abc", "/api/v1/orders?TOKEN=[redacted]"),
        ("/api/v1/orders?status=open", "/api/v1/orders?status=open"),
        ("/api/v1/orders?mytoken=abc", "/api/v1/orders?mytoken=abc"),
    ],
)
def test_secret_query_values_are_replaced(path, expected):
    assert redact_query_secrets(path) == expected


def _format(record: logging.LogRecord) -> str:
    QuerySecretRedactionFilter().filter(record)
    return record.getMessage()


def test_a_uvicorn_access_line_keeps_everything_but_the_key():
    # uvicorn.access: (client, method, full path, http version, status)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/ws/stream/?token=sk_live_secret", "1.1", 101),
        None,
    )
    line = _format(record)
    assert "sk_live_secret" not in line
    assert line == '127.0.0.1:5000 - "GET /ws/stream/?token=[redacted] HTTP/1.1" 101'


def test_a_websocket_handshake_line_is_redacted_on_the_error_logger(caplog):
    # given the filter installed as the ASGI module installs it
    install_query_secret_redaction()
    install_query_secret_redaction()  # idempotent
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, QuerySecretRedactionFilter) for f in logger.filters) == 1
    # when uvicorn logs an accepted WebSocket with its path
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/stream/?token=k1")
    # then the key is not in the log
    assert "k1" not in caplog.text and "token=[redacted]" in caplog.text
