"""A lean WebSocket client for the fan-out bench: thousands of streams in one process.

The bench's clients share the server's two cores, so what they spend per message is taken
from the server under test. The `websockets` package spends ~60-115 µs per message received
(its connection machinery: a task, futures and a queue per frame); this client is an
`asyncio.Protocol` that parses the server's frames in `data_received` (RFC 6455: a server's
frames are never masked, so a frame is a 2-10 byte header and its payload) and answers the
server's keepalive pings, ~10 µs per message. It speaks only what the bench needs: the
opening handshake with an `Authorization` header and no Origin, masked text frames out, text,
ping and close frames in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
MAX_HANDSHAKE_BYTES = 16 * 1024


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame (clients must mask: RFC 6455 5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    repeated = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big"
    )
    return header + mask + masked


class StreamClient(asyncio.Protocol):
    """One stream. `on_text(payload)` gets each text message's bytes; `opened` resolves
    once the server accepted the upgrade; `closed` once the connection is gone (with the
    close code the server sent, or None when the socket just went away)."""

    def __init__(self, *, host: str, path: str, headers: dict[str, str], on_text: Callable):
        self.on_text = on_text
        self.key = base64.b64encode(os.urandom(16))
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buffer = bytearray()

    # --- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._handshake():
            return
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # --- sending ----------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self.transport.write(masked_frame(OP_TEXT, text.encode()))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(OP_CLOSE, struct.pack("!H", 1000)))
            self.transport.close()

    # --- receiving --------------------------------------------------------------------

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HANDSHAKE_BYTES:
                self._fail(ConnectionError("no end to the handshake response"))
            return False
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if head[0].split(" ")[1:2] != ["101"] or fields.get("sec-websocket-accept") != accept:
            self._fail(ConnectionError(f"upgrade refused: {head[0]}"))
            return False
        self.upgraded = True
        self.opened.set_result(None)
        return True

    def _frames(self) -> None:
        buffer = self.buffer
        at, size = 0, len(buffer)
        while size - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, start = second & 0x7F, at + 2
            if length == 126:
                if size - at < 4:
                    break
                length, start = struct.unpack_from("!H", buffer, at + 2)[0], at + 4
            elif length == 127:
                if size - at < 10:
                    break
                length, start = struct.unpack_from("!Q", buffer, at + 2)[0], at + 10
            end = start + length
            if end > size:
                break
            opcode = first & 0x0F
            if opcode == OP_TEXT:
                self.on_text(bytes(buffer[start:end]))
            elif opcode == OP_PING:
                self.transport.write(masked_frame(OP_PONG, bytes(buffer[start:end])))
            elif opcode == OP_CLOSE:
                code = struct.unpack_from("!H", buffer, start)[0] if length >= 2 else None
                if not self.closed.done():
                    self.closed.set_result(code)
                self.transport.close()
            at = end
        del buffer[:at]

    def _fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        self.transport.close()
