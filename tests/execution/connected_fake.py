"""An in-test ConnectedBrokerAdapter: the connection lifecycle is tested against the protocol
only (the real Alpaca/Kite adapters have their own tests against their wire fakes).

`FakeConnectedBroker` answers from plain attributes a test sets (`check`, `funds_value`,
`funds_error`, `positions_rows`, `orders_rows`, `fills_rows`, `stream_errors`); the
`connected_broker` fixture registers it under "alpaca" for one test and restores the registry.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

from execution.protocol import (
    BrokerFillView,
    BrokerFunds,
    BrokerOrderView,
    ConnectionCheck,
    ConnectionState,
    VenuePosition,
)


class FakeConnectedBroker:
    name = "alpaca"

    def __init__(self) -> None:
        self.check = ConnectionCheck(True, 12, "Alpaca answers (account ACTIVE).", "connected")
        self.check_error: Exception | None = None
        self.funds_value = BrokerFunds(Decimal("2500.50"), Decimal("5001"), "USD")
        self.funds_error: Exception | None = None
        self.funds_calls = 0
        self.positions_rows: list[VenuePosition] = []
        self.orders_rows: list[BrokerOrderView] = []
        self.fills_rows: list[BrokerFillView] = []
        self.stream_errors: list[Exception] = []  # raised by successive stream_run calls
        self.stream_calls = 0
        self.streaming = threading.Event()

    # BrokerAdapter
    def submit(self, request):
        return []

    def modify(self, request):
        return []

    def cancel(self, *, order_id, account_id, symbol):
        return []

    def open_orders(self, *, account_id):
        return []

    def positions(self, *, account_id):
        return list(self.positions_rows)

    # ConnectedBrokerAdapter
    def check_connection(self, *, account_id):
        if self.check_error is not None:
            raise self.check_error
        return self.check

    def funds(self, *, account_id):
        self.funds_calls += 1
        if self.funds_error is not None:
            raise self.funds_error
        return self.funds_value

    def broker_orders(self, *, account_id, since):
        return list(self.orders_rows)

    def broker_fills(self, *, account_id, since):
        return list(self.fills_rows)

    def stream_run(self, *, account_id, stop):
        self.stream_calls += 1
        if self.stream_errors:
            raise self.stream_errors.pop(0)
        self.streaming.set()
        stop.wait()


def broker_order(**overrides) -> BrokerOrderView:
    values = {
        "broker_order_id": "b-1",
        "client_order_id": "",
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "qty": Decimal("10"),
        "filled_qty": Decimal("0"),
        "limit_price": Decimal("9.5"),
        "stop_price": None,
        "avg_fill_price": None,
        "status": "new",
        "time_in_force": "day",
        "created_at": datetime(2026, 1, 5, 10, tzinfo=UTC),
    }
    values.update(overrides)
    return BrokerOrderView(**values)


__all__ = ["ConnectionState", "FakeConnectedBroker", "broker_order"]
