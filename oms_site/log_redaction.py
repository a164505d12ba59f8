"""Keep API keys out of the web server's logs.

A WebSocket client that cannot send headers authenticates with `/ws/stream/?token=<api
key>` (API.md), and uvicorn logs every request's path with its query string: HTTP lines on
`uvicorn.access`, WebSocket handshakes on `uvicorn.error`. The filter rewrites the value of
any secret-bearing query parameter in those records before a handler formats them.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = ("token", "api_key", "key", "secret")
REDACTED = "[redacted]"
_NAMES = "|".join(SECRET_PARAMETERS)
_SECRET_IN_QUERY = re.compile(rf"(?P<lead>[?&](?:{_NAMES})=)[^&\s\"']*", re.IGNORECASE)
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_query_secrets(text: str) -> str:
    """`/ws/stream/?token=abc&x=1` → `/ws/stream/?token=[redacted]&x=1`."""
    return _SECRET_IN_QUERY.sub(lambda m: m.group("lead") + REDACTED, text)


class QuerySecretRedactionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_query_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact_query_secrets(record.msg)
        return True


def install_query_secret_redaction(logger_names: tuple[str, ...] = UVICORN_LOGGERS) -> None:
    """Add the filter to the web server's loggers (once per process)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuerySecretRedactionFilter) for f in logger.filters):
            logger.addFilter(QuerySecretRedactionFilter())
