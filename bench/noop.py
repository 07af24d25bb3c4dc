"""The hot path in one process: an app served by uvicorn's own protocols over a transport that writes nowhere.

No socket, no system call, no second process. A client's bytes reach the server protocol's
``data_received`` from an event-loop callback, as uvloop hands it what a socket read; what the
protocol writes is the client's to read. Everything a real server spends per frame is here but
the kernel's share: uvicorn's HTTP parsing and upgrade (``BoundedHttpProtocol`` for a rendered
service), its WebSocket framing (websockets' sans-I/O protocol), Litestar, and the app. So the
work per round trip or per delivery can be counted in instructions (callgrind), which load on the
machine does not change, and the ratios to the reference servers mean what they mean on a real
server (``python -m bench`` confirms them there).

The clients cost little: their frames are masked once, up front, and a reply is checked with a
comparison of bytes (echo) or by reading its ``seq`` (fan-out). Every check fails the run with
:class:`~bench.servers.BenchError`, as in the benchmark.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import re
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from uvicorn.lifespan.on import LifespanOn
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from .servers import BenchError, Contract

ROOM = "bench"
TIMEOUT_S = 600.0 if os.environ.get("BENCH_CALLGRIND_LIB") else 60.0
"""Longest wait for one step (a handshake, a round of deliveries): a hang, not slowness. Under
callgrind a step runs about 50 times slower, and more on a busy machine."""

T = TypeVar("T")

_SEQ = re.compile(rb'"seq":\s*(\d+)')


def client_frame(message: dict[str, Any] | bytes) -> bytes:
    """A masked text frame (RFC 6455 section 5.3: every client frame is masked) carrying ``message``."""
    payload = message if isinstance(message, bytes) else json.dumps(message, separators=(",", ":")).encode()
    return Frame(Opcode.TEXT, payload).serialize(mask=True)


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of each unmasked server frame in ``data`` (one write may hold several)."""
    frames = []
    at = 0
    while at < len(data):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        at += 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2]), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8]), at + 8
        frames.append((opcode, data[at : at + length]))
        at += length
    return frames


class NoopTransport(asyncio.Transport):
    """A transport with no socket: writes go to ``on_write``, reads come from :meth:`feed`."""

    def __init__(self, on_write: Callable[[bytes], None], port: int) -> None:
        super().__init__()
        self._on_write = on_write
        self._port = port
        self._protocol: asyncio.Protocol | None = None
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", self._port)}.get(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.Protocol:
        assert self._protocol is not None
        return self._protocol

    def feed(self, data: bytes) -> None:
        """Hand ``data`` to the protocol, as the event loop does with bytes read from a socket."""
        if not self._closing:
            self.get_protocol().data_received(data)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._on_write(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self.get_protocol().connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


@dataclass
class Served:
    """An ASGI app behind uvicorn's protocols, configured as its run command configures uvicorn."""

    app: Any
    options: dict[str, Any]
    """Keywords of ``uvicorn.Config`` (the protocol classes, ``ws_max_size``, ...)."""
    config: uvicorn.Config = field(init=False)
    state: ServerState = field(init=False)
    lifespan: LifespanOn = field(init=False)
    ports: int = 40000
    failure: asyncio.Future[None] | None = None

    def fail(self, problem: str) -> None:
        """Fail the run: a check failed where raising would only reach the server (inside its write)."""
        if self.failure is not None and not self.failure.done():
            self.failure.set_exception(BenchError(problem))

    async def wait(self, work: Awaitable[T]) -> T:
        """Await ``work``, failing at once when a check fails, or after :data:`TIMEOUT_S`."""
        assert self.failure is not None
        task = asyncio.ensure_future(work)
        waited: list[asyncio.Future[Any]] = [task, self.failure]
        done, _ = await asyncio.wait(waited, timeout=TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if self.failure in done:
            task.cancel()
            self.failure.result()
        if task not in done:
            task.cancel()
            raise BenchError(f"not done within {TIMEOUT_S:g} s")
        return task.result()

    async def start(self) -> None:
        """Load the config and run the app's startup (uvicorn's lifespan protocol)."""
        options = {"log_config": None, "lifespan": "on", **self.options}
        self.config = uvicorn.Config(self.app, **options)
        self.config.load()
        self.state = ServerState()
        self.state.default_headers = list(self.config.encoded_headers)
        self.failure = asyncio.get_running_loop().create_future()
        self.lifespan = LifespanOn(self.config)
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            raise BenchError("the app's startup failed")

    async def stop(self) -> None:
        """Run the app's shutdown."""
        await self.lifespan.shutdown()

    def connection(self, on_write: Callable[[bytes], None]) -> NoopTransport:
        """A new client connection: uvicorn's HTTP protocol on a fresh transport (upgraded by a handshake)."""
        self.ports += 1
        transport = NoopTransport(on_write, self.ports)
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.state, app_state=self.lifespan.state
        )
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        return transport


class Client:
    """One WebSocket client over a :class:`NoopTransport`."""

    def __init__(self, served: Served, path: str) -> None:
        self.served = served
        self.loop = asyncio.get_running_loop()
        self.path = path
        self.transport = served.connection(self._written)
        self.upgraded: asyncio.Future[None] = self.loop.create_future()
        self.closed: asyncio.Future[int] = self.loop.create_future()
        self.on_frame: Callable[[bytes], None] = self.unexpected
        self.seq: int | None = None
        """The room's ``seq`` its join reply named (None: the reply names none)."""

    def handshake(self) -> asyncio.Future[None]:
        key = base64.b64encode(b"bench-noop-key16").decode()
        self.transport.feed(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        return self.upgraded

    def _written(self, data: bytes) -> None:
        if not self.upgraded.done():
            if not data.startswith(b"HTTP/1.1 101"):
                self.served.fail(f"handshake answered {data[:60]!r}")
            else:
                self.upgraded.set_result(None)
            return
        for opcode, payload in server_frames(data):
            if opcode == Opcode.TEXT:
                self.on_frame(payload)
            elif opcode == Opcode.CLOSE and not self.closed.done():
                self.closed.set_result(int.from_bytes(payload[:2]) if payload else 1005)

    def unexpected(self, payload: bytes) -> None:
        self.served.fail(f"unexpected frame {payload!r}")

    def send(self, frame: bytes) -> None:
        """Send a masked ``frame`` from the next turn of the event loop."""
        self.loop.call_soon(self.transport.feed, frame)

    async def close(self) -> None:
        """Close with 1000 and wait for the server's close frame."""
        self.on_frame = lambda payload: None
        self.transport.feed(Frame(Opcode.CLOSE, (1000).to_bytes(2)).serialize(mask=True))
        await self.served.wait(self.closed)


async def connect(served: Served, path: str, count: int) -> list[Client]:
    clients = [Client(served, path) for _ in range(count)]
    await served.wait(asyncio.gather(*(client.handshake() for client in clients)))
    return clients


async def close_all(clients: list[Client]) -> None:
    for client in clients:  # what a closing client still receives (member_left, say) does not matter
        client.on_frame = lambda payload: None
    await asyncio.gather(*(client.close() for client in clients))
    for _ in range(3):  # the handlers' clean-up runs in the turns after the close
        await asyncio.sleep(0)


# Echo


PING_PAYLOAD = b'{"type":"ping","id":"1234"}'
PING = client_frame(PING_PAYLOAD)
PONG = b'{"type":"pong","id":"1234"}'
"""The reply of a rendered service to :data:`PING` (the raw echo sends the ping back)."""


class Echoes:
    """Closed-loop round trips: each client sends the next ping as soon as the reply to the last arrived."""

    def __init__(self, served: Served, clients: list[Client], reply: bytes) -> None:
        self.served = served
        self.reply = reply
        self.left = dict.fromkeys(clients, 0)
        self.running = 0
        self.done: asyncio.Future[None] | None = None
        for client in clients:
            client.on_frame = self._replier(client)

    def _replier(self, client: Client) -> Callable[[bytes], None]:
        def on_frame(payload: bytes) -> None:
            if payload != self.reply:
                self.served.fail(f"reply {payload!r} does not match the ping it answers")
            elif left := self.left[client] - 1:
                self.left[client] = left
                client.send(PING)
            else:
                self.left[client] = 0
                self.running -= 1
                if not self.running and self.done is not None:
                    self.done.set_result(None)

        return on_frame

    async def run(self, round_trips: int) -> None:
        """``round_trips`` closed-loop round trips from every client."""
        self.done = asyncio.get_running_loop().create_future()
        self.running = len(self.left)
        for client in self.left:
            self.left[client] = round_trips
            client.send(PING)
        await self.served.wait(self.done)


# Fan-out


class Room:
    """Members of one room; each message is published once the previous one reached every member.

    Each member checks that the room's messages come in ``seq`` order, none missing or twice.
    """

    def __init__(self, served: Served, members: list[Client], publish: Callable[[], None]) -> None:
        self.served = served
        self.members = members
        self.publish = publish
        self.to_publish = 0
        self.arrived = 0
        self.done: asyncio.Future[None] | None = None
        for member in members:
            member.on_frame = self._receiver(member)

    def _receiver(self, member: Client) -> Callable[[bytes], None]:
        # The first message follows the position the join reply named, when it named one.
        last = [member.seq]

        def on_frame(payload: bytes) -> None:
            found = _SEQ.search(payload)
            if found is None or b'"message"' not in payload[:20]:
                self.served.fail(f"unexpected frame {payload!r}")
                return
            seq = int(found.group(1))
            if last[0] is not None and seq != last[0] + 1:
                self.served.fail(f"seq {seq} after {last[0]}")
            last[0] = seq
            self.arrived += 1
            if self.arrived == len(self.members):
                self.arrived = 0
                self.to_publish -= 1
                if self.to_publish:
                    self.publish()
                elif self.done is not None:
                    self.done.set_result(None)

        return on_frame

    async def run(self, messages: int) -> None:
        """Publish ``messages``, one after the other."""
        self.done = asyncio.get_running_loop().create_future()
        self.to_publish = messages
        self.publish()
        await self.served.wait(self.done)


async def join(served: Served, count: int, *, stream: bool, contract: Contract | None = None) -> list[Client]:
    """``count`` members of :data:`ROOM`: joined on ``/ws``, or subscribed on a stream's ``/ws/rooms/{room}``.

    A stream sends its ``subscribed`` frame right after the handshake, so each member's reader is
    in place before the handshake starts. Each reply is checked against the server's ``contract``;
    where it announces presence, each joiner's ``member_joined`` reaches every member that joined
    before it, once: returns when all ``count * (count - 1) / 2`` of them have arrived.
    """
    contract = contract or Contract()
    members = [Client(served, f"/ws/rooms/{ROOM}" if stream else "/ws") for _ in range(count)]
    loop = asyncio.get_running_loop()
    ready = [loop.create_future() for _ in members]
    owed = count * (count - 1) // 2 if contract.presence else 0
    announced = loop.create_future()
    heard: list[set[str]] = [set() for _ in members]
    replies: list[dict[str, Any]] = [{} for _ in members]
    if not owed:
        announced.set_result(None)

    for index, member in enumerate(members):

        def on_frame(payload: bytes, index: int = index) -> None:
            message = json.loads(payload)
            if not ready[index].done():
                if (problem := contract.check_join(message, ROOM, members=count)) is not None:
                    served.fail(f"unexpected frame {payload!r} ({problem})")
                    return
                replies[index] = message
                ready[index].set_result(None)
            elif (
                contract.presence
                and message.get("type") == "member_joined"
                and set(message) == {"type", "room", "sender"}
                and message["room"] == ROOM
                and message["sender"] not in heard[index]
                and not announced.done()
            ):
                heard[index].add(message["sender"])
                if sum(map(len, heard)) == owed:
                    announced.set_result(None)
            else:
                served.fail(f"unexpected frame {payload!r}")

        member.on_frame = on_frame
    await served.wait(asyncio.gather(*(member.handshake() for member in members)))
    if not stream:
        for member in members:
            member.send(client_frame({"type": "join", "room": ROOM}))
    await served.wait(asyncio.gather(*ready))
    await served.wait(announced)
    if contract.presence:
        # Joins are answered one at a time: each counts the members with itself.
        counts = sorted(reply["members"] for reply in replies)
        if counts != list(range(1, count + 1)):
            raise BenchError(f"joined counted members {counts}, not 1 to {count}")
    if contract.resume:
        if len({(reply["epoch"], reply["seq"]) for reply in replies}) != 1:
            raise BenchError("members joined at different positions of the room, with no message published")
        for member, reply in zip(members, replies, strict=True):
            member.seq = reply["seq"]
    return members


class Poster:
    """``POST /rooms/{room}/messages`` over one keep-alive HTTP/1.1 connection of uvicorn's HTTP protocol."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.transport = served.connection(self._written)
        self.loop = asyncio.get_running_loop()
        body = json.dumps({"text": "hello"}).encode()
        self.request = (
            b"POST /rooms/%s/messages HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (ROOM.encode(), len(body), body)
        )

    def _written(self, data: bytes) -> None:
        # The response head, then its body in a write of its own.
        if data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 202"):
            self.served.fail(f"POST answered {data[:200]!r}")

    def post(self) -> None:
        self.loop.call_soon(self.transport.feed, self.request)


def publisher(served: Served, members: list[Client], by: str) -> Callable[[], None]:
    """How :class:`Room` publishes: a ``say`` from the first member, or a ``POST``."""
    if by == "say":
        say = client_frame({"type": "say", "room": ROOM, "text": "hello"})
        first = members[0]
        return lambda: first.send(say)
    return Poster(served).post


# Idle memory


async def idle_bytes(
    served: Served, count: int, *, path: str, join_room: bool, contract: Contract | None = None
) -> float:
    """Bytes the Python allocator holds per open (and, ``join_room``, joined) silent connection.

    Measured with tracemalloc between two collections, so it counts Python objects and the
    buffers they own, not memory allocated outside Python's allocators (the kernel's socket
    buffers, uvloop's C structures): RSS on a real server (``python -m bench``) adds those.
    """

    async def open_joined(n: int) -> list[Client]:
        if join_room:
            return await join(served, n, stream=path != "/ws", contract=contract)
        clients = await connect(served, path, n)
        for client in clients:
            client.on_frame = client.unexpected
        return clients

    await close_all(await open_joined(20))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        clients = await open_joined(count)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    await close_all(clients)
    return (after - before) / count
