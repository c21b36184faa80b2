"""The sandbox's Socket Mode server: the WebSocket that `apps.connections.open` points to.

It speaks Slack's side of the protocol: a `hello` on connect, envelopes
(`slash_commands`, `interactive`, `events_api`) pushed to the app, and acks
(`{"envelope_id": ..., "payload": ...}`) read back and recorded, so a test can see what the
app acknowledged and with what response payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.sandbox.slack_models import APP_ID


class SocketModeNotConnected(TimeoutError):
    """No app held a Socket Mode connection when an envelope had to go out."""


class NoAck(TimeoutError):
    """The app did not acknowledge an envelope in time (bolt sends none for unhandled requests)."""


@dataclass(frozen=True)
class SocketModeAck:
    envelope_id: str
    payload: dict[str, Any] | None
    at: float


@dataclass
class _Connection:
    id: int
    websocket: WebSocket
    loop: asyncio.AbstractEventLoop
    retiring: bool = False  # told to reconnect; closed once its successor connects


class SocketModeServer:
    """Issues connection URLs, holds the app's WebSocket connections, delivers and collects."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._connection_count = 0
        self._envelopes: list[dict[str, Any]] = []
        self._acks: list[SocketModeAck] = []
        self._other_messages: list[Any] = []

    def issue_url(self, base_url: str) -> str:
        """A one-time `ws://` URL, as apps.connections.open answers with a `wss://` one."""
        ticket = secrets.token_hex(8)
        with self._cond:
            self._tickets.add(ticket)
        ws_base = base_url.replace("http://", "ws://", 1)
        return f"{ws_base}/link/?ticket={ticket}&app_id={APP_ID}"

    async def endpoint(self, websocket: WebSocket) -> None:
        """The WebSocket route: check the ticket, say hello, then read acks until the app leaves."""
        ticket = websocket.query_params.get("ticket", "")
        with self._cond:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        with self._cond:
            self._connection_count += 1
            connection = _Connection(self._connection_count, websocket, asyncio.get_running_loop())
            self._connections.append(connection)
            active = len(self._connections)
        hello = {
            "type": "hello",
            "num_connections": active,
            "debug_info": {"host": "sandbox-socket-mode", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        await websocket.send_text(json.dumps(hello))
        with self._cond:
            retired = [c for c in self._connections if c.retiring]
            self._cond.notify_all()
        for old in retired:  # as Slack does, some time after its `disconnect` message
            with contextlib.suppress(Exception):
                await old.websocket.close(code=1001)
        try:
            while True:
                self._receive(await websocket.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            with self._cond:
                self._connections.remove(connection)
                self._cond.notify_all()

    def _receive(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            message = raw
        with self._cond:
            if isinstance(message, dict) and "envelope_id" in message:
                payload = message.get("payload")
                ack = SocketModeAck(
                    str(message["envelope_id"]),
                    payload if isinstance(payload, dict) else None,
                    time.time(),
                )
                self._acks.append(ack)
            else:
                self._other_messages.append(message)
            self._cond.notify_all()

    # --- used from test threads ------------------------------------------------------------
    @property
    def connected(self) -> int:
        """How many app connections are open now."""
        with self._cond:
            return len(self._connections)

    def wait_for_connection(self, *, timeout: float = 5.0) -> None:
        """Wait until an app holds a connection that is not being retired."""
        self._usable_connection(timeout)

    def _usable_connection(self, timeout: float) -> _Connection:
        def newest() -> _Connection | None:
            return next((c for c in reversed(self._connections) if not c.retiring), None)

        with self._cond:
            connection = self._cond.wait_for(newest, timeout)
        if connection is None:
            raise SocketModeNotConnected(f"no Socket Mode connection within {timeout} s")
        return connection

    def deliver(self, envelope: dict[str, Any], *, timeout: float = 5.0) -> SocketModeAck:
        """Push one envelope to the newest usable connection and wait for its ack."""
        connection = self._usable_connection(timeout)
        with self._cond:
            self._envelopes.append(envelope)
        self._send(connection, json.dumps(envelope), timeout=timeout)
        envelope_id = envelope["envelope_id"]

        def acked() -> SocketModeAck | None:
            return next((a for a in self._acks if a.envelope_id == envelope_id), None)

        with self._cond:
            ack = self._cond.wait_for(acked, timeout)
        if ack is None:
            raise NoAck(f"envelope {envelope_id} ({envelope['type']}) was not acked in {timeout} s")
        return ack

    def request_reconnect(self, reason: str = "refresh_requested", *, timeout: float = 5.0) -> None:
        """Ask every connected app to reconnect, as Slack does every few hours."""
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "sandbox"}}
        )
        with self._cond:
            connections = list(self._connections)
            for connection in connections:
                connection.retiring = True
        for connection in connections:
            self._send(connection, message, timeout=timeout)

    def close_all(self, *, timeout: float = 5.0) -> None:
        """Close every connection (the server is stopping), so the server can exit promptly."""
        with self._cond:
            connections = list(self._connections)
        for connection in connections:
            future = asyncio.run_coroutine_threadsafe(
                connection.websocket.close(code=1001), connection.loop
            )
            with contextlib.suppress(Exception):  # already closed by the app: nothing to do
                future.result(timeout)

    def envelopes(self) -> list[dict[str, Any]]:
        """Envelopes delivered so far, in order."""
        with self._cond:
            return list(self._envelopes)

    def acks(self) -> list[SocketModeAck]:
        with self._cond:
            return list(self._acks)

    @staticmethod
    def _send(connection: _Connection, text: str, *, timeout: float) -> None:
        future = asyncio.run_coroutine_threadsafe(
            connection.websocket.send_text(text), connection.loop
        )
        future.result(timeout)
