"""HTTP through Django's WSGI handler on the ASGI server's thread pool
(oms_site/wsgi_over_asgi.py): a whole response is sent from the event loop in two
messages; a streaming one chunk by chunk, as it comes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

from oms_site.wsgi_over_asgi import WsgiOnThreadPool


def _call(app: WsgiOnThreadPool) -> list[tuple[dict[str, Any], int]]:
    """Run one GET through the ASGI app → (message, thread id of the send) per message."""
    sent: list[tuple[dict[str, Any], int]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append((message, threading.get_ident()))

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [(b"host", b"testserver")],
    }

    async def main() -> int:
        await app(scope, receive, send)
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    return [(message, loop_thread == ident) for message, ident in sent]


def _wsgi(response_factory):
    def application(environ, start_response):
        response = response_factory()
        start_response(f"{response.status_code} OK", [(k, v) for k, v in response.headers.items()])
        return response

    return application


def test_a_whole_response_is_sent_from_the_event_loop_in_two_messages():
    # given a WSGI app answering a plain (non-streaming) response
    app = WsgiOnThreadPool(_wsgi(lambda: HttpResponse(b'{"ok": true}', status=201)))

    # when a request goes through it
    sent = _call(app)

    # then the start and the whole body went out from the loop's thread, nothing more
    assert [message["type"] for message, _ in sent] == ["http.response.start", "http.response.body"]
    assert all(on_loop for _, on_loop in sent)
    assert sent[0][0]["status"] == 201
    assert sent[1][0]["body"] == b'{"ok": true}' and not sent[1][0].get("more_body")


def test_a_streaming_response_is_sent_chunk_by_chunk():
    # given a WSGI app answering a streaming response of two chunks
    app = WsgiOnThreadPool(_wsgi(lambda: StreamingHttpResponse(iter([b"a,b\n", b"1,2\n"]))))

    # when a request goes through it
    sent = _call(app)

    # then each chunk is its own message, and the last message ends the body
    bodies = [message.get("body", b"") for message, _ in sent[1:]]
    assert sent[0][0]["type"] == "http.response.start"
    assert bodies == [b"a,b\n", b"1,2\n", b""]
    assert [message.get("more_body", False) for message, _ in sent[1:]] == [True, True, False]
