"""Real local servers for delivery tests: an SMTP server (aiosmtpd) that keeps what it
receives, and an HTTP webhook receiver that checks X-OMS-Signature like a real consumer
would (fresh timestamp, valid MAC, an `id` it has not accepted before)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from notifications.webhooks import signature_verify


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [
                m
                for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=True)
                if address in rcpts
            ]


@pytest.fixture
def smtp_inbox(settings) -> Iterator[_Inbox]:
    """A real SMTP server on 127.0.0.1; Django's SMTP backend pointed at it."""
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then 200), checking it as the
    README tells receivers to: a bad or stale signature → 401; the very same signed request
    again → 409 (a replay); an `id` already processed, freshly signed (our own retry) → 200
    without processing it again."""

    url: str = ""
    secret: str = ""
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)  # ids, once each
    seen_signatures: set[str] = field(default_factory=set)
    arrivals: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        signature = headers.get("X-OMS-Signature", "")
        with self.lock:
            self.arrivals.append(time.time())
            if not signature_verify(secret=self.secret, body=body, header=signature):
                status = 401
            elif signature in self.seen_signatures and json.loads(body)["id"] in self.processed:
                status = 409
            else:
                self.seen_signatures.add(signature)
                event_id = json.loads(body)["id"]
                if event_id in self.processed:
                    status = 200  # a redelivery: acknowledged, not processed twice
                else:
                    status = self.script.pop(0) if self.script else 200
                    if 200 <= status < 300:
                        self.processed.append(event_id)
            self.received.append(Received(body=body, headers=headers, status=status))
            return status

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's hook name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.answer(body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/oms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Sink:
    """Takes any POST with the next scripted status (then 200) and keeps its JSON body."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_sink(sink: Sink) -> tuple[ThreadingHTTPServer, str]:
    """Serve `sink` on 127.0.0.1; returns the server and its host:port/path (no scheme)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's hook name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with sink.lock:
                status = sink.script.pop(0) if sink.script else 200
                sink.bodies.append(json.loads(body or b"{}"))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}/chat"


@pytest.fixture
def http_sink() -> Iterator[Sink]:
    """A local HTTP endpoint for apprise's json:// chat URLs."""
    sink = Sink()
    server, sink.url = start_sink(sink)
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
