"""The reads of the Alpaca adapter: orders and fills at the broker (reconciliation, the
stream's catch-up), open orders, positions, funds and the connection check.

A mixin of `AlpacaBroker` (execution/adapters/alpaca.py), which provides `call`, `guarded`,
`get_order`, `filled_before`, `our_id` and the symbol mapping.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.crypto import CredentialsUnreadable
from execution.adapters import alpaca_mapping as mapping
from execution.adapters.alpaca_mapping import AlpacaAuthError, AlpacaRefusedError
from execution.broker_config import BrokerNotConfiguredError, connection_status_record
from execution.protocol import (
    BrokerFillView,
    BrokerFunds,
    BrokerOrderView,
    ConnectionCheck,
    ConnectionState,
    TransientBrokerError,
    VenueOrderView,
    VenuePosition,
)

PAGE = 500


class AlpacaReads:
    def list_orders(self, account_id: str, *, status: str, since: datetime | None) -> list[dict]:
        """Every order of the account (oldest first), paging by created_at."""
        out: list[dict] = []
        after = since.isoformat() if since else None
        while True:
            params = {"status": status, "limit": PAGE, "direction": "asc"}
            if after:
                params["after"] = after
            page = self.call(account_id, lambda c, p=params: c.get("/orders", p)) or []
            out += page
            if len(page) < PAGE:
                return out
            after = page[-1]["created_at"]

    def list_fills(self, account_id: str, *, since: datetime | None) -> list[dict]:
        out: list[dict] = []
        params: dict[str, Any] = {"direction": "asc", "page_size": 100}
        if since:
            params["after"] = since.isoformat()
        while True:
            page = self.call(
                account_id, lambda c, p=dict(params): c.get("/account/activities/FILL", p)
            )
            page = page or []
            out += page
            if len(page) < 100:
                return out
            params["page_token"] = page[-1]["id"]

    def open_orders(self, *, account_id: str) -> list[VenueOrderView]:
        views = self.broker_orders(account_id=account_id, since=None, status="open")
        return [
            VenueOrderView(
                order_id=v.client_order_id,
                symbol=v.symbol,
                side=v.side,
                qty=v.qty,
                filled_qty=v.filled_qty,
                limit_price=v.limit_price,
                status=v.status,
            )
            for v in views
            if v.client_order_id
        ]

    def positions(self, *, account_id: str) -> list[VenuePosition]:
        rows = (
            self.guarded(
                account_id,
                "positions",
                lambda: self.call(account_id, lambda c: c.get("/positions")),
            )
            or []
        )
        out = []
        for row in rows:
            qty = Decimal(str(row["qty"]))
            if row.get("side") == "short" and qty > 0:
                qty = -qty
            out.append(
                VenuePosition(account_id=account_id, symbol=self.oms_symbol(row["symbol"]), qty=qty)
            )
        return out

    def funds(self, *, account_id: str) -> BrokerFunds:
        account = self.guarded(
            account_id, "funds", lambda: self.call(account_id, lambda c: c.get("/account"))
        )
        return BrokerFunds(
            cash=Decimal(str(account.get("cash") or 0)),
            buying_power=Decimal(str(account.get("buying_power") or 0)),
            currency=account.get("currency") or "USD",
        )

    def broker_orders(
        self, *, account_id: str, since: datetime | None, status: str = "all"
    ) -> list[BrokerOrderView]:
        """Orders at Alpaca; a replacement chain is one order (the last one, with the
        quantities the replaced ones filled)."""
        rows = self.guarded(
            account_id,
            "broker orders",
            lambda: self.list_orders(account_id, status=status, since=since),
        )
        by_id = {row["id"]: row for row in rows}
        views = []
        for row in rows:
            if row.get("replaced_by"):
                continue  # folded into its replacement
            before, link = Decimal("0"), row.get("replaces")
            while link in by_id:
                before += mapping.decimal_or_none(by_id[link].get("filled_qty")) or Decimal("0")
                link = by_id[link].get("replaces")
            if link:  # a replaced order older than `since`: walk the chain at Alpaca
                before = self.filled_before(account_id, row)
            views.append(
                mapping.order_view(
                    row,
                    our_id=self.our_id(row.get("client_order_id") or ""),
                    symbol=self.oms_symbol(row.get("symbol") or ""),
                    filled_before=before,
                )
            )
        return views

    def broker_fills(self, *, account_id: str, since: datetime | None) -> list[BrokerFillView]:
        rows = self.guarded(
            account_id, "broker fills", lambda: self.list_fills(account_id, since=since)
        )
        client_ids: dict[str, str] = {}
        views = []
        for row in rows:
            broker_id = row["order_id"]
            if broker_id not in client_ids:
                order = self.get_order(account_id, broker_id)
                client_ids[broker_id] = order.get("client_order_id") or ""
            views.append(
                mapping.fill_view(
                    row,
                    our_id=self.our_id(client_ids[broker_id]),
                    symbol=self.oms_symbol(row.get("symbol") or ""),
                )
            )
        return views

    def check_connection(self, *, account_id: str) -> ConnectionCheck:
        started = time.monotonic()
        try:
            account = self.call(account_id, lambda c: c.get("/account"))
        except BrokerNotConfiguredError:
            detail = "This account has no Alpaca connection to test."
            return ConnectionCheck(False, 0, detail, ConnectionState.ERROR)
        except CredentialsUnreadable:
            detail = "The stored Alpaca keys cannot be decrypted (was the key rotated?)."
            check = ConnectionCheck(False, _ms(started), detail, ConnectionState.ERROR)
        except AlpacaAuthError as exc:
            check = ConnectionCheck(False, _ms(started), str(exc), ConnectionState.ERROR)
        except AlpacaRefusedError as exc:
            detail = f"Alpaca refused the account check: {exc}"
            check = ConnectionCheck(False, _ms(started), detail, ConnectionState.ERROR)
        except TransientBrokerError as exc:
            check = ConnectionCheck(False, _ms(started), str(exc), ConnectionState.DISCONNECTED)
        else:
            detail = (
                f"Connected to Alpaca account {account.get('account_number', '?')} "
                f"({account.get('status', 'unknown status')})."
            )
            check = ConnectionCheck(True, _ms(started), detail, ConnectionState.CONNECTED)
        self._states[account_id] = check.state
        connection_status_record(account_id=account_id, state=check.state, detail=check.detail)
        return check


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
