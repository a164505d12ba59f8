"""A loopback fake of Alpaca's trading API (REST under /v2 and the trade_updates stream),
written from Alpaca's documentation and alpaca-py's wire format — not from OMS's adapter.

REST (headers `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`; errors `{"code", "message"}`):
    POST|GET /v2/orders, GET /v2/orders:by_client_order_id?client_order_id=…,
    GET|PATCH|DELETE /v2/orders/{id} (PATCH = replace: a new order, `replaces`/`replaced_by`),
    GET /v2/positions, GET /v2/account, GET /v2/clock, GET /v2/assets/{symbol},
    GET /v2/account/activities/FILL.
Stream at ws://host:port/stream: {"action": "authenticate", "data": {"key_id", "secret_key"}}
→ {"stream": "authorization", "data": {"status": "authorized", …}}; {"action": "listen",
"data": {"streams": ["trade_updates"]}} → {"stream": "listening", …}; then every order event
of the account (including orders placed through the "outside" endpoint).

Control API (no auth, private prefix /_fake):
    POST /_fake/quote {"symbol", "bid", "ask", "last"}   push a quote (fills crossing limits)
    POST /_fake/orders/{id}/fill {"qty", "price"?}       fill (part of) an order
    POST /_fake/outside/orders {…as /v2/orders…}         an order placed in the broker's own app
    GET  /_fake/orders                                   every order the fake holds
    GET  /_fake/requests                                 every /v2 request seen: [method, path]
    POST /_fake/faults {"kind", …}                       misbehave (see `Faults`)
    DELETE /_fake/faults                                 behave again
    POST /_fake/stream/drop {"lose_events": n}           close every stream now; lose n events
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from execution.fakes.alpaca_faults import STATUS_BODIES, Faults
from execution.fakes.alpaca_state import (
    FakeAccountState,
    FakeApiError,
    FakeQuote,
    QuoteSource,
    not_found,
    unprocessable,
)
from execution.fakes.alpaca_wire import account_json, asset_json, clock_json, positions_json
from execution.fakes.loopback import LoopbackServer

logger = logging.getLogger(__name__)

DEFAULT_KEY_ID = "FAKEALPACAKEY"
DEFAULT_SECRET_KEY = "FAKEALPACASECRET"
_ORDER_PATH = re.compile(r"^/v2/orders/([0-9a-fA-F-]{36})$")
_ASSET_PATH = re.compile(r"^/v2/assets/([A-Za-z0-9.:/-]+)$")
_FILL_PATH = re.compile(r"^/_fake/orders/([0-9a-fA-F-]{36})/fill$")


class _Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()


class AlpacaFakeApp:
    """The ASGI app. All state changes happen on the server's event loop."""

    def __init__(
        self,
        *,
        quote_source: QuoteSource | None = None,
        key_id: str = DEFAULT_KEY_ID,
        secret_key: str = DEFAULT_SECRET_KEY,
        quote_poll_s: float | None = None,
    ) -> None:
        self.state = FakeAccountState(key_id=key_id, secret_key=secret_key)
        self.quote_source = quote_source or (lambda symbol: None)
        self.quote_poll_s = quote_poll_s
        self.pushed: dict[str, FakeQuote] = {}
        self.faults = Faults()
        self.requests: list[list[str]] = []
        self.subscribers: set[_Subscriber] = set()
        self._held: str | None = None
        self._held_timer: asyncio.TimerHandle | None = None
        self._release: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self._release = asyncio.Event()
        if self.quote_poll_s:
            asyncio.get_running_loop().create_task(self._poll_quotes())

    def release(self) -> None:
        """Stopping: wake every handler that waits on purpose and close every stream."""
        self._release_waiters()
        for subscriber in self.subscribers:
            subscriber.queue.put_nowait(None)

    def _release_waiters(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = asyncio.Event()

    async def _pause(self, seconds: float) -> None:
        if self._release is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._release.wait(), timeout=seconds)
        except TimeoutError:
            return

    async def _poll_quotes(self) -> None:
        while True:
            await asyncio.sleep(self.quote_poll_s)
            symbols = {o.symbol for o in self.state.orders.values() if o.is_open}
            for symbol in sorted(symbols):
                try:
                    quote = await self._quote(symbol)
                except Exception:  # a quote source failing must not stop the fake; logged
                    logger.exception("quote source failed for %s", symbol)
                    continue
                if quote is not None:
                    await self._publish(self.state.on_quote(symbol, quote))

    async def _quote(self, symbol: str) -> FakeQuote | None:
        if symbol in self.pushed:
            return self.pushed[symbol]
        return await asyncio.to_thread(self.quote_source, symbol)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            await _respond(send, 400, {"code": 40010000, "message": "invalid JSON body"})
            return
        try:
            if path.startswith("/_fake/"):
                status, answer = await self._control(method, path, payload)
            elif path.startswith("/v2/"):
                status, answer = await self._api(method, path, query, headers, payload)
            else:
                raise not_found("endpoint")
        except FakeApiError as exc:
            status, answer = exc.status, exc.body()
        await _respond(send, status, answer)

    # ------------------------------------------------------------------ /v2

    async def _api(
        self, method: str, path: str, query: dict, headers: dict, payload: Any
    ) -> tuple[int, Any]:
        self.requests.append([method, path])
        if self.faults.hang_s:
            await self._pause(self.faults.hang_s)
        key, secret = headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")
        if not key or not secret or key != self.state.key_id:
            raise FakeApiError(401, 40110000, "request is not authorized")
        if not self.state.authorized(key, secret):
            raise FakeApiError(403, 40310000, "forbidden")
        fault = self.faults.status_for(method, path)
        if fault is not None:
            if fault["accept"] and method == "POST" and path == "/v2/orders":
                await self._order_create(payload)
            code, message = STATUS_BODIES.get(fault["status"], (50010000, "error"))
            return fault["status"], {"code": code, "message": message}
        handler = self._route(method, path)
        if handler is None:
            raise not_found("endpoint")
        return await handler(path, query, payload)

    def _route(self, method: str, path: str) -> Callable[..., Awaitable] | None:
        fixed = {
            ("POST", "/v2/orders"): self._post_order,
            ("GET", "/v2/orders"): self._get_orders,
            ("GET", "/v2/orders:by_client_order_id"): self._get_by_client_id,
            ("GET", "/v2/positions"): self._get_positions,
            ("GET", "/v2/account"): self._get_account,
            ("GET", "/v2/clock"): self._get_clock,
            ("GET", "/v2/account/activities/FILL"): self._get_fills,
        }
        if (method, path) in fixed:
            return fixed[(method, path)]
        if _ORDER_PATH.match(path):
            return {"GET": self._get_order, "PATCH": self._patch_order}.get(
                method, self._delete_order if method == "DELETE" else None
            )
        if method == "GET" and _ASSET_PATH.match(path):
            return self._get_asset
        return None

    async def _order_create(self, payload: Any, *, outside: bool = False):
        if not isinstance(payload, dict):
            raise unprocessable("the order must be a JSON object")
        if self.faults.reject and not outside:
            raise FakeApiError(403, 40310000, self.faults.reject.pop(0))
        quote = await self._quote(str(payload.get("symbol") or "").upper())
        order, events = self.state.order_create(payload, quote=quote, outside=outside)
        await self._publish(events)
        return order

    async def _post_order(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        order = await self._order_create(payload)
        delay = self.faults.late_answer("POST")
        if delay:
            await self._pause(delay)
        return 200, order.to_json()

    async def _get_orders(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, [o.to_json() for o in self.state.orders_list(query)]

    async def _get_by_client_id(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, self.state.order_by_client_id(query.get("client_order_id", "")).to_json()

    async def _get_order(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, self.state.order_get(_ORDER_PATH.match(path).group(1)).to_json()

    async def _patch_order(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        order = self.state.order_get(_ORDER_PATH.match(path).group(1))
        quote = await self._quote(order.symbol)
        new, events = self.state.order_replace(order.id, payload or {}, quote=quote)
        await self._publish(events)
        delay = self.faults.late_answer("PATCH")
        if delay:
            await self._pause(delay)
        return 200, new.to_json()

    async def _delete_order(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        await self._publish(self.state.order_cancel(_ORDER_PATH.match(path).group(1)))
        return 204, None

    async def _get_positions(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        quotes = {symbol: await self._quote(symbol) for symbol in self.state.positions}
        return 200, positions_json(self.state, quotes)

    async def _get_account(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, account_json(self.state)

    async def _get_clock(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, clock_json()

    async def _get_asset(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        symbol = _ASSET_PATH.match(path).group(1).upper()
        if await self._quote(symbol) is None:
            raise not_found(f"asset {symbol}")
        return 200, asset_json(symbol)

    async def _get_fills(self, path: str, query: dict, payload: Any) -> tuple[int, Any]:
        return 200, self.state.activities_fill(query)

    # ------------------------------------------------------------------ control

    async def _control(self, method: str, path: str, payload: Any) -> tuple[int, Any]:
        payload = payload or {}
        if method == "POST" and path == "/_fake/quote":
            symbol = str(payload["symbol"]).upper()
            values = {k: payload.get(k) for k in ("bid", "ask", "last")}
            quote = FakeQuote(**{k: None if v is None else _decimal(v) for k, v in values.items()})
            self.pushed[symbol] = quote
            await self._publish(self.state.on_quote(symbol, quote))
            return 200, {"symbol": symbol}
        if method == "POST" and (match := _FILL_PATH.match(path)):
            order = self.state.order_get(match.group(1))
            price = payload.get("price")
            if price is None:
                quote = await self._quote(order.symbol)
                price = (quote.ask if order.side == "buy" else quote.bid) if quote else None
                price = price or (quote.last if quote else None) or order.limit_price
            if price is None:
                raise unprocessable("no price to fill at")
            qty = _decimal(payload.get("qty") or order.leaves)
            await self._publish(self.state.fill(order, qty=qty, price=_decimal(price)))
            return 200, order.to_json()
        if method == "POST" and path == "/_fake/outside/orders":
            return 200, (await self._order_create(payload, outside=True)).to_json()
        if method == "GET" and path == "/_fake/orders":
            return 200, [o.to_json() for o in self.state.orders.values()]
        if method == "GET" and path == "/_fake/requests":
            return 200, self.requests
        if path == "/_fake/faults" and method in ("POST", "DELETE"):
            if method == "POST":
                self.faults.add(payload)
            else:
                self.faults = Faults()
                self._release_waiters()
            return 200, {"ok": True}
        if method == "POST" and path == "/_fake/stream/drop":
            self.faults.lose_events += int(payload.get("lose_events", 0))
            for subscriber in list(self.subscribers):
                subscriber.queue.put_nowait(None)
            return 200, {"dropped": len(self.subscribers)}
        raise not_found("control endpoint")

    # ------------------------------------------------------------------ stream

    async def _publish(self, events: list[dict]) -> None:
        for event in events:
            frame = json.dumps(event)
            if self.faults.lose_events:
                self.faults.lose_events -= 1
                continue
            if self.faults.out_of_order and self._held is None:
                # held back until the next event (or, if none comes, a moment later)
                self._held = frame
                loop = asyncio.get_running_loop()
                self._held_timer = loop.call_later(0.2, self._release_held)
                continue
            frames = [frame]
            if self._held is not None:
                frames.append(self._held)
                self._held = None
                self._held_timer.cancel()
                self.faults.out_of_order -= 1
            self._deliver(frames)

    def _release_held(self) -> None:
        if self._held is not None:
            frames, self._held = [self._held], None
            self.faults.out_of_order = max(0, self.faults.out_of_order - 1)
            self._deliver(frames)

    def _deliver(self, frames: list[str]) -> None:
        for item in list(frames):
            if self.faults.duplicate:
                self.faults.duplicate -= 1
                frames.append(item)
        for item in frames:
            for subscriber in list(self.subscribers):
                subscriber.queue.put_nowait(item)

    async def _websocket(self, scope: dict, receive: Callable, send: Callable) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != "/stream":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        subscriber = _Subscriber()
        authorized = False
        reader = asyncio.ensure_future(receive())
        writer = asyncio.ensure_future(subscriber.queue.get())
        try:
            while True:
                done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
                if writer in done:
                    frame = writer.result()
                    if frame is None:
                        await send({"type": "websocket.close", "code": 1011})
                        return
                    if self.faults.binary_frames:
                        await send({"type": "websocket.send", "bytes": frame.encode()})
                    else:
                        await send({"type": "websocket.send", "text": frame})
                    writer = asyncio.ensure_future(subscriber.queue.get())
                if reader in done:
                    message = reader.result()
                    if message["type"] == "websocket.disconnect":
                        return
                    reply, authorized, close = self._stream_action(message, authorized, subscriber)
                    if reply is not None:
                        await send({"type": "websocket.send", "text": json.dumps(reply)})
                    if close:
                        await send({"type": "websocket.close", "code": 1008})
                        return
                    reader = asyncio.ensure_future(receive())
        finally:
            self.subscribers.discard(subscriber)
            for task in (reader, writer):
                task.cancel()

    def _stream_action(
        self, message: dict, authorized: bool, subscriber: _Subscriber
    ) -> tuple[dict | None, bool, bool]:
        raw = message.get("text") or (message.get("bytes") or b"").decode() or "{}"
        try:
            msg = json.loads(raw)
        except ValueError:
            return _stream_error("invalid syntax"), authorized, False
        action, data = msg.get("action"), msg.get("data") or {}
        if action in ("authenticate", "auth"):
            if self.state.authorized(data.get("key_id"), data.get("secret_key")):
                reply = {"action": "authenticate", "status": "authorized"}
                return {"stream": "authorization", "data": reply}, True, False
            reply = {"action": "authenticate", "status": "unauthorized"}
            return {"stream": "authorization", "data": reply}, False, True
        if not authorized:
            return _stream_error("access key verification failed"), False, True
        if action == "listen":
            streams = [s for s in data.get("streams") or [] if s == "trade_updates"]
            if streams:
                self.subscribers.add(subscriber)
            else:
                self.subscribers.discard(subscriber)
            return {"stream": "listening", "data": {"streams": streams}}, True, False
        return _stream_error(f"unrecognized action {action!r}"), True, False


def _stream_error(message: str) -> dict:
    return {"stream": "listening", "data": {"error": message}}


def _decimal(value: Any):
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise unprocessable(f"invalid number {value!r}") from exc


async def _respond(send: Callable, status: int, body: Any) -> None:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = [(b"content-type", b"application/json")] if raw else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def alpaca_fake_server(
    *,
    quote_source: QuoteSource | None = None,
    port: int = 0,
    key_id: str = DEFAULT_KEY_ID,
    secret_key: str = DEFAULT_SECRET_KEY,
    quote_poll_s: float | None = None,
) -> LoopbackServer:
    """A fake Alpaca on 127.0.0.1 (not started): `with alpaca_fake_server(...) as server:`
    serves it in a background thread; `server.base_url`, `server.ws_url + "/stream"`."""
    app = AlpacaFakeApp(
        quote_source=quote_source, key_id=key_id, secret_key=secret_key, quote_poll_s=quote_poll_s
    )
    return LoopbackServer(app, port=port)


def run(*, port: int, quote_source: QuoteSource | None, options: dict[str, Any]) -> None:
    """`manage.py run_fake_broker alpaca`: serve in the foreground until interrupted."""
    server = alpaca_fake_server(
        quote_source=quote_source,
        port=port,
        key_id=options.get("key_id") or DEFAULT_KEY_ID,
        secret_key=options.get("secret_key") or DEFAULT_SECRET_KEY,
        quote_poll_s=float(options.get("quote_poll_s") or 1.0),
    )
    print(
        f"Fake Alpaca at {server.base_url} (stream {server.ws_url}/stream); "
        f"key id {server.app.state.key_id!r}, secret {server.app.state.secret_key!r}"
    )
    server.serve_forever()
