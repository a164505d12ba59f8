"""What each real broker needs to be reached: credential keys and settings with defaults.

Registered into accounts.registry from ExecutionConfig.ready(), so accounts validates new
accounts (API and pages) and the connect pages show the fields without importing execution.
The defaults are the brokers' own public endpoints (Alpaca: its paper environment, so a new
account never trades real money by accident; Kite: production, Kite has no paper endpoint).
"""

from __future__ import annotations

from accounts.registry import BrokerConnectionSpec, ConnectionField

HTTP = ("https", "http")
WS = ("wss", "ws")

ALPACA_PAPER_BASE_URL = "https://paper-api.alpaca.markets"
ALPACA_PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
KITE_ROOT = "https://api.kite.trade"
KITE_TICKER_URL = "wss://ws.kite.trade"
KITE_LOGIN_URL = "https://kite.zerodha.com/connect/login"

ALPACA = BrokerConnectionSpec(
    broker="alpaca",
    title="Alpaca",
    currency="USD",
    intro=(
        "Create an API key in Alpaca's dashboard (paper or live) and paste its key id and "
        "secret. The URLs default to Alpaca's paper environment; for live trading use "
        "https://api.alpaca.markets and wss://api.alpaca.markets/stream."
    ),
    credentials=(
        ConnectionField("key_id", "API key id", "APCA-API-KEY-ID, e.g. PK…"),
        ConnectionField("secret_key", "API secret key", "Shown once by Alpaca; stored encrypted."),
    ),
    settings=(
        ConnectionField(
            "base_url",
            "Trading API URL",
            "Paper: https://paper-api.alpaca.markets · live: https://api.alpaca.markets",
            default=ALPACA_PAPER_BASE_URL,
            schemes=HTTP,
        ),
        ConnectionField(
            "stream_url",
            "Order updates stream URL",
            "The trade_updates WebSocket of the same environment.",
            default=ALPACA_PAPER_STREAM_URL,
            schemes=WS,
        ),
    ),
)

KITE = BrokerConnectionSpec(
    broker="kite",
    title="Zerodha Kite",
    currency="INR",
    intro=(
        "Create a Kite Connect app at developers.kite.trade, set its redirect URL to "
        "<this site>/brokers/kite/callback/ and its postback URL to "
        "<this site>/api/v1/brokers/kite/postback/<account id>, and paste the app's API key "
        "and secret. Kite sessions end every morning: log in to Kite once a day to renew "
        "the access token."
    ),
    credentials=(
        ConnectionField("api_key", "API key", "The Kite Connect app's api_key."),
        ConnectionField("api_secret", "API secret", "The app's secret; stored encrypted."),
        ConnectionField(
            "access_token",
            "Access token",
            "Optional: today's token. Usually left empty and set by “Log in to Kite”.",
            required=False,
        ),
    ),
    settings=(
        ConnectionField(
            "root",
            "API root",
            "Scheme and host only (Kite drops a path).",
            default=KITE_ROOT,
            schemes=HTTP,
        ),
        ConnectionField(
            "ticker_url",
            "Ticker WebSocket URL",
            "Order updates and ticks.",
            default=KITE_TICKER_URL,
            schemes=WS,
        ),
        ConnectionField(
            "login_url",
            "Login URL",
            "Where “Log in to Kite” sends you.",
            default=KITE_LOGIN_URL,
            schemes=HTTP,
        ),
    ),
)

SPECS = (ALPACA, KITE)
