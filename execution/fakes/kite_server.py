"""A loopback fake of Zerodha Kite Connect v3 (REST, login redirect, ticker, postbacks).

Routes (as `kiteconnect.KiteConnect(root="http://127.0.0.1:N")` calls them):
  GET  /connect/login?api_key=…&v=3      → 302 to the redirect URL with `request_token`
  POST /session/token                    form api_key, request_token, checksum
  POST /orders/{variety}                 form-encoded order → {"order_id"}
  PUT|DELETE /orders/{variety}/{id}      modify / cancel
  GET  /orders, /orders/{id} (history), /orders/{id}/trades, /trades
  GET  /portfolio/positions, /user/margins, /user/profile
  WS   /ws?api_key=…&access_token=…      text frames {"type": "order", "data": {…}}
Every API route wants `X-Kite-Version: 3` and `Authorization: token api_key:access_token`;
errors are {"status": "error", "message", "error_type"} (TokenException 403: log in again).

Control (fake only, JSON POST under /_fake/): request_token, expire_session, reject_next
{count, message}, rate_limit_next {count}, timeout_next {count, seconds}, partial_next {qty},
drop_ticker_next {count}, duplicate_next {count}, reorder_next {count}, fill {order_id, qty,
price}, match (fill crossing orders against the quotes), outside_order {variety, …form}
(an order placed on Kite's own app), config {postback_url, redirect_url}; GET
/_fake/postbacks and /_fake/stats.

Start in-process with `KiteFakeServer(...).start()` (a free port, a thread) or with
`python manage.py run_fake_broker kite --port N`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
import uvicorn

from execution.fakes.kite_book import POSTBACK_STATUSES, KiteBook, KiteError, QuoteSource

logger = logging.getLogger(__name__)
_db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kite-fake-db")

_ORDER = re.compile(r"^/orders/(?P<variety>[a-z]+)(?:/(?P<order_id>[0-9]+))?$")
_ORDER_READ = re.compile(r"^/orders/(?P<order_id>[0-9]+)(?P<trades>/trades)?$")


class KiteFakeApp:
    """The ASGI application; all state changes happen on its event loop."""

    def __init__(self, book: KiteBook, *, redirect_url: str = "", postback_url: str = "") -> None:
        self.book = book
        self.redirect_url = redirect_url
        self.postback_url = postback_url
        self.postbacks: list[dict[str, Any]] = []
        self._sockets: set[asyncio.Queue] = set()
        self._held: list[dict[str, Any]] = []  # an update held back (reorder)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: dict, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode()))
        try:
            status, payload, extra = await self._route(
                scope["method"], scope["path"], headers, query, body
            )
        except KiteError as exc:
            status, extra = exc.status, {}
            payload = {"status": "error", "message": exc.message, "error_type": exc.error_type}
        raw = json.dumps(payload, default=str).encode() if payload is not None else b""
        head = [(b"content-type", b"application/json")] + [
            (k.encode(), v.encode()) for k, v in extra.items()
        ]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw})

    async def _route(self, method: str, path: str, headers: dict, query: dict, body: bytes):
        if path.startswith("/_fake/"):
            data = json.loads(body or b"{}") if method == "POST" else {}
            return 200, await self._control(path[len("/_fake/") :], data), {}
        if method == "GET" and path == "/connect/login":
            return self._login(query)
        form = dict(parse_qsl(body.decode())) if body else {}
        if method == "POST" and path == "/session/token":
            return (
                200,
                _ok(
                    self.book.session_token(
                        api_key=form.get("api_key", ""),
                        request_token=form.get("request_token", ""),
                        checksum=form.get("checksum", ""),
                    )
                ),
                {},
            )
        if headers.get("x-kite-version") != "3":
            raise KiteError(400, "InputException", "Missing or invalid `X-Kite-Version` header.")
        self.book.authorize(headers.get("authorization", ""))
        return 200, _ok(await self._api(method, path, form)), {}

    async def _api(self, method: str, path: str, form: dict[str, str]) -> Any:
        book = self.book
        reads = {
            "/orders": book.order_list,
            "/trades": lambda: list(book.trades),
            "/portfolio/positions": book.positions,
            "/user/margins": book.margins,
            "/user/profile": book.profile,
        }
        if method == "GET" and path in reads:
            return reads[path]()
        read = _ORDER_READ.match(path)
        if method == "GET" and read:
            order_id = read["order_id"]
            if read["trades"]:
                return book.order_trades(order_id)
            book.get(order_id)
            return list(book.history[order_id])
        match = _ORDER.match(path)
        if match is None or method not in ("POST", "PUT", "DELETE"):
            raise KiteError(404, "GeneralException", "Route not found.")
        if book.faults.rate_limit_next > 0:
            book.faults.rate_limit_next -= 1
            raise KiteError(429, "NetworkException", "Too many requests")
        variety, order_id = match["variety"], match["order_id"]
        if method == "POST" and order_id is None:
            book.orders_received += 1
            book.check_order_limits()
            placed = book.place(variety=variety, form=form)
            self._publish(placed["updates"])
            await self._maybe_stall()
            return {"order_id": placed["order_id"]}
        if order_id is None:
            raise KiteError(404, "GeneralException", "Route not found.")
        if method == "PUT":
            self._publish(book.modify(variety=variety, order_id=order_id, form=form))
        else:
            self._publish(book.cancel(variety=variety, order_id=order_id))
        await self._maybe_stall()
        return {"order_id": order_id}

    async def _maybe_stall(self) -> None:
        """Timeout after accepting: the order is done, the answer comes too late."""
        if self.book.faults.timeout_next > 0:
            self.book.faults.timeout_next -= 1
            await asyncio.sleep(self.book.faults.timeout_s)

    def _login(self, query: dict) -> tuple[int, Any, dict]:
        if query.get("api_key") != self.book.api_key:
            raise KiteError(400, "InputException", "Invalid `api_key`.")
        if not self.redirect_url:
            raise KiteError(400, "InputException", "No redirect URL configured for this app.")
        # Kite hands the app's own `redirect_params` (a URL-encoded query) back on the redirect.
        params = urlencode(
            [
                *parse_qsl(query.get("redirect_params", "")),
                ("action", "login"),
                ("type", "login"),
                ("status", "success"),
                ("request_token", self.book.issue_request_token()),
            ]
        )
        joiner = "&" if "?" in self.redirect_url else "?"
        return 302, None, {"location": f"{self.redirect_url}{joiner}{params}"}

    # ------------------------------------------------------------------ control

    async def _control(self, action: str, data: dict[str, Any]) -> Any:
        book, faults = self.book, self.book.faults
        if action == "request_token":
            return {"request_token": book.issue_request_token()}
        if action == "expire_session":
            book.expire_sessions()
        elif action in (
            "reject_next",
            "rate_limit_next",
            "timeout_next",
            "drop_ticker_next",
            "duplicate_next",
            "reorder_next",
        ):
            setattr(faults, action, int(data.get("count", 1)))
            if action == "reject_next" and data.get("message"):
                faults.reject_message = str(data["message"])
            if action == "timeout_next" and data.get("seconds") is not None:
                faults.timeout_s = float(data["seconds"])
        elif action == "partial_next":
            faults.partial_next = Decimal(str(data["qty"]))
        elif action == "fill":
            self._publish(
                [
                    book.fill(
                        str(data["order_id"]),
                        qty=Decimal(str(data["qty"])),
                        price=Decimal(str(data["price"])),
                    )
                ]
            )
        elif action == "match":
            self._publish(book.match_all())
        elif action == "outside_order":
            placed = book.place(
                variety=str(data.pop("variety", "regular")),
                form={k: str(v) for k, v in data.items()},
                outside=True,
            )
            self._publish(placed["updates"])
            return {"order_id": placed["order_id"]}
        elif action == "config":
            self.postback_url = data.get("postback_url", self.postback_url)
            self.redirect_url = data.get("redirect_url", self.redirect_url)
        elif action == "postbacks":
            return list(self.postbacks)
        elif action == "stats":
            return {
                "orders_received": book.orders_received,
                "orders": len(book.orders),
                "sockets": len(self._sockets),
            }
        else:
            raise KiteError(404, "GeneralException", f"Unknown control {action!r}.")
        return {"ok": True}

    # ------------------------------------------------------------------ updates out

    def _publish(self, updates: list[dict[str, Any]]) -> None:
        faults = self.book.faults
        for update in updates:
            if faults.reorder_next > 0 and not self._held:
                faults.reorder_next -= 1
                self._held.append(update)
                continue
            out = [update, *self._held]  # the held (older) update arrives after a newer one
            self._held = []
            for item in out:
                copies = 1
                if faults.duplicate_next > 0:
                    faults.duplicate_next -= 1
                    copies = 2
                for _ in range(copies):
                    self._send_ticker(item)
                    self._send_postback(item)

    def _send_ticker(self, update: dict[str, Any]) -> None:
        if self.book.faults.drop_ticker_next > 0:
            self.book.faults.drop_ticker_next -= 1
            for queue in list(self._sockets):
                queue.put_nowait(None)  # close: this update never goes out on the ticker
            return
        frame = json.dumps({"type": "order", "id": "", "data": update}, default=str)
        for queue in list(self._sockets):
            queue.put_nowait(frame)

    def _send_postback(self, update: dict[str, Any]) -> None:
        if update["status"] not in POSTBACK_STATUSES or update["placed_by"] == "OUTSIDE":
            return
        payload = self.book.postback(update)
        self.postbacks.append(payload)
        if self.postback_url:
            asyncio.get_running_loop().run_in_executor(None, _post_json, self.postback_url, payload)

    async def _websocket(self, scope: dict, receive, send) -> None:
        query = dict(parse_qsl(scope["query_string"].decode()))
        await receive()  # websocket.connect
        token = query.get("access_token", "")
        if (
            scope["path"] != "/ws"
            or query.get("api_key") != self.book.api_key
            or (token not in self.book.access_tokens)
        ):
            await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
            return
        await send({"type": "websocket.accept"})
        queue: asyncio.Queue = asyncio.Queue()
        self._sockets.add(queue)
        reader = asyncio.ensure_future(self._ws_reader(receive, queue))
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    await send({"type": "websocket.send", "bytes": b"\x00"})  # heartbeat
                    continue
                if frame is None:
                    await send({"type": "websocket.close", "code": 1011})
                    return
                await send({"type": "websocket.send", "text": frame})
        finally:
            self._sockets.discard(queue)
            reader.cancel()

    async def _ws_reader(self, receive, queue: asyncio.Queue) -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass  # subscribe/mode messages: the fake sends no market ticks
        queue.put_nowait(None)


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _post_json(url: str, payload: dict[str, Any]) -> None:
    try:
        requests.post(
            url,
            data=json.dumps(payload, default=str),
            timeout=5,
            headers={"Content-Type": "application/json"},
        )
    except requests.RequestException as exc:  # Kite does not retry a failed postback either
        logger.warning("Kite fake: postback to %s failed: %s", url, exc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class KiteFakeServer:
    """The fake on 127.0.0.1, served by uvicorn in a thread (tests) or in the foreground."""

    def __init__(
        self,
        *,
        api_key: str = "fake_api_key",
        api_secret: str = "fake_api_secret",  # noqa: S107 (a fake's own secret)
        quotes: QuoteSource | None = None,
        port: int | None = None,
        redirect_url: str = "",
        postback_url: str = "",
    ) -> None:
        self.book = KiteBook(api_key=api_key, api_secret=api_secret, quotes=quotes or _no_quotes)
        self.app = KiteFakeApp(self.book, redirect_url=redirect_url, postback_url=postback_url)
        self.port = port or free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
                ws_ping_interval=None,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ticker_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def login_url(self) -> str:
        return f"{self.root}/connect/login"

    def start(self) -> KiteFakeServer:
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="kite-fake")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Kite fake did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.run()

    def control(self, action: str, **data: Any) -> Any:
        """Call the control API (from any thread)."""
        response = requests.post(f"{self.root}/_fake/{action}", json=data, timeout=5)
        return response.json()


def _no_quotes(symbol: str) -> None:
    return None


def threaded_quotes(source: Callable[[str], Any]) -> QuoteSource:
    """A quote source that reads the database, made callable from the fake's event loop
    (where Django refuses database calls): each read runs on one worker thread while the
    loop waits (a demo tool, not a hot path). "NSE:INFY" with no quote is asked again as
    "INFY" (an instrument without a Kite symbol); dicts or objects with bid/ask/last."""

    def read(symbol: str) -> dict[str, Any] | None:
        found = source(symbol)
        if found is None and ":" in symbol:
            found = source(symbol.partition(":")[2])
        if found is None or isinstance(found, dict):
            return found
        return {name: getattr(found, name, None) for name in ("bid", "ask", "last")}

    return lambda symbol: _db_pool.submit(read, symbol).result(timeout=5)


def run(*, port: int, quote_source: Callable[[str], Any], options: dict[str, Any]) -> None:
    """`run_fake_broker kite`: serve the fake on 127.0.0.1 in the foreground, filling at
    OMS's quotes. Options: key_id / secret_key (the app's api_key / api_secret; defaults
    fake_api_key / fake_api_secret), redirect_url, postback_url."""
    server = KiteFakeServer(
        port=port,
        quotes=threaded_quotes(quote_source),
        api_key=options.get("key_id") or "fake_api_key",
        api_secret=options.get("secret_key") or "fake_api_secret",
        redirect_url=options.get("redirect_url") or "",
        postback_url=options.get("postback_url") or "",
    )
    print(f"Kite fake: REST {server.root}  ticker {server.ticker_url}  login {server.login_url}")
    server.serve_forever()
