"""Connections, rooms and fan-out.

:class:`ConnectionManager` is the registry: which connections are open, which rooms they are in.
:class:`Connection` is one client's side of delivery: a bounded outbound backlog (the outbox)
drained by a single writer, so that a broadcast never awaits a socket.

Backpressure policy: a broadcast puts the already-encoded frame into each member's outbox
without waiting. A member whose outbox is full is a slow consumer: it is closed with 1013
(Try Again Later) and its backlog is dropped, while every other member keeps receiving. The
same outbox carries the replies to a client's own requests, so one writer orders every frame
a client gets.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncGenerator
from typing import Protocol

from litestar.exceptions import WebSocketDisconnect
from litestar.status_codes import WS_1000_NORMAL_CLOSURE, WS_1013_TRY_AGAIN_LATER

from .broker import Broker
from .models import Frame, RoomMessage, encode

logger = logging.getLogger(__name__)

SLOW_CONSUMER_REASON = "slow consumer: outbound backlog overflowed"
"""Close reason sent with 1013 (at most 123 bytes, RFC 6455 section 5.5)."""


class ClientSocket(Protocol):
    """What a :class:`Connection` needs from its WebSocket (see ``protocol.ServiceWebSocket``)."""

    async def send_frame(self, frame: Frame) -> None:
        """Send one frame in the service's transport mode; may block while the peer does not read."""
        ...

    def request_close(self, code: int, reason: str) -> None:
        """Ask for the connection to be closed with ``code``, without waiting for it."""
        ...


class Connection:
    """One client connection's delivery state: its id, its rooms and its outbox.

    Frames go out in the order :meth:`deliver` received them, through exactly one consumer:
    the writer task (:meth:`start_writer`) or a stream iterating :meth:`drain`.
    """

    def __init__(self, socket: ClientSocket, outbox_size: int) -> None:
        """Create the connection's state; nothing is sent until a frame is delivered.

        Args:
            socket: The client's WebSocket.
            outbox_size: Frames that may wait for the client before it is a slow consumer.
        """
        self.id = secrets.token_hex(8)
        """Stable id of this connection, the ``sender`` of its messages."""
        self.rooms: set[str] = set()
        """Rooms this connection is a member of."""
        self._socket = socket
        self._outbox: deque[Frame] = deque()
        self._outbox_size = outbox_size
        self._frame_ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def closing(self) -> bool:
        """Whether a close was requested; frames delivered from then on are dropped."""
        return self._closing

    def deliver(self, frame: Frame) -> None:
        """Queue ``frame`` for the client without waiting.

        A full outbox makes this client a slow consumer: it is closed with 1013 and its backlog
        dropped. Frames for a closing connection are dropped.
        """
        if self._closing:
            return
        if len(self._outbox) >= self._outbox_size:
            self.close(WS_1013_TRY_AGAIN_LATER, SLOW_CONSUMER_REASON)
            return
        self._outbox.append(frame)
        self._frame_ready.set()

    async def drain(self) -> AsyncGenerator[Frame, None]:
        """Yield queued frames in order, waiting for more; runs until cancelled."""
        while True:
            while self._outbox:
                yield self._outbox.popleft()
            self._frame_ready.clear()
            await self._frame_ready.wait()

    def start_writer(self) -> None:
        """Start the task that sends queued frames to the socket, one at a time."""
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    async def _write(self) -> None:
        try:
            async for frame in self.drain():
                await self._socket.send_frame(frame)
        except (WebSocketDisconnect, OSError):
            # The peer is gone; the receive side sees the disconnect and cleans up.
            return

    def close(self, code: int = WS_1000_NORMAL_CLOSURE, reason: str = "") -> None:
        """Drop the backlog, stop the writer and ask the socket to close with ``code``.

        Idempotent: only the first call has an effect. Returns at once; the socket sends the
        close frame, or gives up on a client that does not read (see ``WS_CLOSE_TIMEOUT_S``).
        """
        if self._closing:
            return
        self._closing = True
        self._outbox.clear()
        if self._writer is not None:
            self._writer.cancel()
        self._socket.request_close(code, reason)

    async def stop(self) -> None:
        """Drop the backlog and wait for the writer task to end; no task is left behind."""
        self._closing = True
        self._outbox.clear()
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.cancel()
        await asyncio.wait([writer])
        if not writer.cancelled() and (exc := writer.exception()) is not None:
            logger.error("writer of connection %s failed", self.id, exc_info=exc)


class ConnectionManager:
    """Registry of open connections and rooms, and the local fan-out of room messages.

    A room exists while it has members in this process; the broker numbers its messages
    (``seq``) and hands each one to :meth:`deliver_local`, which encodes it once and queues the
    same frame for every member.
    """

    def __init__(self, broker: Broker, *, outbox_size: int) -> None:
        """Create an empty registry.

        Args:
            broker: Carries and numbers room messages (see ``broker.py``).
            outbox_size: Per-connection backlog, in frames, before a slow consumer is closed.
        """
        self._broker = broker
        self._outbox_size = outbox_size
        self._connections: dict[str, Connection] = {}
        self._rooms: dict[str, set[Connection]] = {}
        # Serialises a room's creation and removal with the broker's (un)subscribe, so that a
        # `joined` reply is only sent once the room's messages are being delivered.
        self._membership = asyncio.Lock()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def connection_count(self) -> int:
        """Open connections in this process."""
        return len(self._connections)

    @property
    def room_count(self) -> int:
        """Rooms with at least one member in this process."""
        return len(self._rooms)

    def members(self, room: str) -> int:
        """This process's members of ``room`` (0 for an unknown room)."""
        return len(self._rooms.get(room, ()))

    async def start(self) -> None:
        """Start receiving room messages from the broker (an app ``on_startup`` hook)."""
        await self._broker.start(self.deliver_local)

    async def stop(self) -> None:
        """Stop receiving room messages from the broker (an app ``on_shutdown`` hook)."""
        await self._broker.stop()

    def connect(self, socket: ClientSocket) -> Connection:
        """Register a new connection for ``socket`` and return it."""
        connection = Connection(socket, self._outbox_size)
        self._connections[connection.id] = connection
        self._idle.clear()
        return connection

    async def disconnect(self, connection: Connection) -> None:
        """Remove ``connection`` from every room and the registry, and stop its writer.

        Safe to call more than once. Rooms left empty are forgotten.
        """
        await connection.stop()
        for room in list(connection.rooms):
            await self.leave(connection, room)
        self._connections.pop(connection.id, None)
        if not self._connections:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no connection is registered (used by tests and graceful shutdown)."""
        await self._idle.wait()

    async def join(self, connection: Connection, room: str) -> int:
        """Make ``connection`` a member of ``room``; joining twice is the same as once.

        Returns:
            This process's member count of ``room`` after joining.
        """
        async with self._membership:
            members = self._rooms.get(room)
            if members is None:
                await self._broker.subscribe(room)
                members = self._rooms[room] = set()
            members.add(connection)
            connection.rooms.add(room)
            return len(members)

    async def leave(self, connection: Connection, room: str) -> None:
        """End ``connection``'s membership of ``room``; not being a member is not an error."""
        async with self._membership:
            connection.rooms.discard(room)
            members = self._rooms.get(room)
            if members is None or connection not in members:
                return
            members.discard(connection)
            if not members:
                del self._rooms[room]
                await self._broker.unsubscribe(room)

    async def publish(self, room: str, text: str, sender: str) -> int:
        """Publish a message to ``room`` through the broker.

        Returns:
            The ``seq`` the message got.
        """
        return await self._broker.publish(room, text, sender)

    def deliver_local(self, message: RoomMessage) -> None:
        """Queue ``message`` for every local member of its room; never awaits a socket.

        The frame is encoded once and the same object is queued for every member.
        """
        members = self._rooms.get(message.room)
        if not members:
            return
        frame = encode(message)
        for connection in members:
            connection.deliver(frame)
