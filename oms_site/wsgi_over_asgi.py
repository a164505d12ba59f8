"""Django's WSGI handler served by the ASGI server, on a pool of threads.

Django's own ASGI handler gives every request a ThreadSensitiveContext (a new thread),
sends request_started/finished through async signals and hops between the event loop
and threads several times: measured ~7 ms of server CPU for a small authenticated API
call, against ~3.4 ms for the same view through the WSGI handler run this way (one hop to
a pooled thread and back). Channels keeps the WebSocket side; HTTP needs nothing async.

asgiref's WsgiToAsgi runs every request on the process's single thread-sensitive thread;
here requests run on the event loop's thread pool instead, so a request waiting on a row
lock does not hold up the others (each thread has its own DB connection, handed back to
the pool at the end of each request — see oms_site/mysql_pool).

A response whose body is whole (every API answer: Django's non-streaming HttpResponse)
comes back from the thread with the request and is sent from the event loop: asgiref sends
each of its three messages (start, body, end) from the thread, each a round trip to the
loop (AsyncToSync: a future, a wake-up of the loop, a wait) — ~7% of the web process's
CPU under an order load. Streaming responses (files, exports) are still sent as they come.
"""

from __future__ import annotations

from tempfile import SpooledTemporaryFile
from typing import Any

from asgiref.sync import AsyncToSync, sync_to_async
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance

_stream_from_thread = WsgiToAsgiInstance.__dict__["run_wsgi_app"].func


class _PooledThreadInstance(WsgiToAsgiInstance):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("WSGI wrapper received a non-HTTP scope")
        self.scope = scope
        with SpooledTemporaryFile(max_size=65536) as body:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ValueError("WSGI wrapper received a non-HTTP-request message")
                body.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body.seek(0)
            self.sync_send = AsyncToSync(send)  # the streaming path sends from the thread
            messages = await self._run(body)
        for message in messages:
            await send(message)

    def _run_in_thread(self, body: Any) -> list[dict[str, Any]]:
        """Run the app; a whole response → its ASGI messages, to send from the loop.
        Anything else (streaming, or a refused request) is sent from here as asgiref does."""
        try:
            environ = self.build_environ(self.scope, body)
        except ValueError:
            _stream_from_thread(self, body)  # asgiref's 400 for too many duplicate headers
            return []
        response = self.wsgi_application(environ, self.start_response)
        if getattr(response, "streaming", True):
            self._stream(response)
            return []
        content = b"".join(response)
        if self.response_content_length is not None:
            content = content[: self.response_content_length]
        self.response_started = True
        return [self.response_start, {"type": "http.response.body", "body": content}]

    def _stream(self, response: Any) -> None:
        """asgiref's loop over a streaming response's chunks, sent from this thread."""
        bytes_sent = 0
        for output in response:
            if not self.response_started:
                self.response_started = True
                self.sync_send(self.response_start)
            if self.response_content_length is not None:
                bytes_allowed = self.response_content_length - bytes_sent
                if len(output) > bytes_allowed:
                    output = output[:bytes_allowed]
            self.sync_send({"type": "http.response.body", "body": output, "more_body": True})
            bytes_sent += len(output)
            if bytes_sent == self.response_content_length:
                break
        if not self.response_started:
            self.response_started = True
            self.sync_send(self.response_start)
        self.sync_send({"type": "http.response.body"})

    _run = sync_to_async(_run_in_thread, thread_sensitive=False)


class WsgiOnThreadPool(WsgiToAsgi):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _PooledThreadInstance(self.wsgi_application, self.duplicate_header_limit)(
            scope, receive, send
        )
