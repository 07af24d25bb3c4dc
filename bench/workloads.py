"""The measured workloads, driven by picows clients (a WebSocket client written in Cython, so that
the client costs little next to the server it measures).

Every workload checks what it measures and raises :class:`~bench.servers.BenchError` on the first
violation: a pong that does not match its ping, a delivery missing or duplicated, a room message
out of ``seq`` order, a close the client did not ask for, ``/health`` not back to zero. Joining
members check their replies (``epoch`` and ``seq``, the ``members`` count) and the presence frames
the contract owes them (each ``member_joined`` once, before the measured phase; ``member_left``
only while they close).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from .servers import BenchError, Contract, Running

ROOM = "bench"
CONNECT_BATCH = 50
"""Connections opened at once (the rest wait), so that the listen backlog never overflows."""
TIMEOUT_S = 60.0
"""Longest wait for one step (every client joined, one message delivered everywhere): a hang, not load."""

T = TypeVar("T")


def percentile(values: list[int], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank), in the values' unit."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))])


class Client(WSListener):  # type: ignore[misc]
    """One WebSocket client: records the close it got and fails the run on one it did not ask for."""

    connected: ClassVar[set[Client]] = set()
    """Clients whose connection is open (:func:`cleanly` drops them after each run)."""

    def __init__(self) -> None:
        self.transport: WSTransport | None = None
        self.closing = False
        self.failure: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        Client.connected.add(self)

    def fail(self, problem: str) -> None:
        if not self.failure.done():
            self.failure.set_exception(BenchError(problem))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.on_text(frame.get_payload_as_utf8_text())
        elif frame.msg_type == WSMsgType.CLOSE and not self.closing:
            self.fail(f"server closed with {frame.get_close_code()} {frame.get_close_message()!r}")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        Client.connected.discard(self)
        if not self.closing:
            self.fail("server dropped the connection")

    def on_text(self, text: str) -> None:
        self.fail(f"unexpected frame {text!r}")

    def send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, json.dumps(message).encode())

    async def close(self) -> None:
        """Close with 1000 and wait for the server to finish the closing handshake."""
        assert self.transport is not None
        self.closing = True
        self.transport.send_close(WSCloseCode.OK)
        await asyncio.wait_for(self.transport.wait_disconnected(), TIMEOUT_S)


C = TypeVar("C", bound=Client)


async def guarded(
    clients: list[Client], work: Awaitable[T], what: str | Callable[[], str], timeout: float = TIMEOUT_S
) -> T:
    """Await ``work`` (described by ``what``, or by what it returns at the time), failing at once if a client fails.

    Raises:
        BenchError: a client failed, or ``work`` had not finished after ``timeout`` seconds.
    """
    task = asyncio.ensure_future(work)
    failures = [client.failure for client in clients]
    done, _ = await asyncio.wait([task, *failures], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for failure in failures:
        if failure.done():
            task.cancel()
            failure.result()
    if task not in done:
        task.cancel()
        raise BenchError(f"{what if isinstance(what, str) else what()}: not done within {timeout:g} s")
    return task.result()


async def cleanly(work: Awaitable[T]) -> T:
    """Await a workload, then drop whatever connections it left open (after a failure, say)."""
    try:
        return await work
    finally:
        for client in list(Client.connected):
            client.closing = True
            assert client.transport is not None
            client.transport.disconnect()
            await client.transport.wait_disconnected()


async def connect(factory: Callable[[], C], url: str, count: int) -> list[C]:
    clients: list[C] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = await asyncio.gather(*(ws_connect(factory, url) for _ in range(min(CONNECT_BATCH, count - start))))
        clients.extend(client for _, client in batch)
    return clients


async def close_all(clients: list[Client], running: Running) -> None:
    """Close every client, then check that ``/health`` is back to no connection and no room."""
    for client in clients:
        client.closing = True  # from now on, those still open hear the others leave (member_left)
    await asyncio.gather(*(client.close() for client in clients))
    await asyncio.to_thread(running.wait_idle)


# Echo: closed-loop ping round trips.


class Pinger(Client):
    """Sends a ping, waits for its reply, sends the next; checks every reply against its ping."""

    def __init__(self, reply_type: str) -> None:
        super().__init__()
        self.reply_type = reply_type
        self.latencies: list[int] = []
        self.expected: dict[str, str] = {}
        self.sent_at = 0
        self.sent = 0
        self.remaining = 0
        self.record = False
        self.done: asyncio.Future[None] | None = None

    def run(self, round_trips: int, *, record: bool) -> asyncio.Future[None]:
        self.remaining, self.record = round_trips, record
        self.done = asyncio.get_running_loop().create_future()
        self.ping()
        return self.done

    def ping(self) -> None:
        assert self.transport is not None
        self.sent += 1
        ping_id = str(self.sent)
        self.expected = {"type": self.reply_type, "id": ping_id}
        self.sent_at = time.perf_counter_ns()
        self.transport.send(WSMsgType.TEXT, b'{"type":"ping","id":"%s"}' % ping_id.encode())

    def on_text(self, text: str) -> None:
        received = time.perf_counter_ns()
        if self.done is None or self.done.done() or json.loads(text) != self.expected:
            self.fail(f"reply {text!r} does not match the ping it answers ({self.expected})")
            return
        if self.record:
            self.latencies.append(received - self.sent_at)
        self.remaining -= 1
        if self.remaining:
            self.ping()
        else:
            self.done.set_result(None)


@dataclass
class Echo:
    msgs_per_s: float
    p50_us: float
    p99_us: float
    cpu_us: float
    """Server CPU per round trip."""


async def echo(running: Running, clients: int, round_trips: int, warmup: int) -> Echo:
    """``clients`` clients each doing ``warmup`` then ``round_trips`` closed-loop ping round trips."""
    reply_type = "ping" if running.kind == "echo" else "pong"
    pingers = await connect(lambda: Pinger(reply_type), running.url("/ws"), clients)
    await guarded(pingers, asyncio.gather(*(pinger.run(warmup, record=False) for pinger in pingers)), "warm-up")
    cpu, start = running.cpu_s(), time.perf_counter()
    await guarded(pingers, asyncio.gather(*(pinger.run(round_trips, record=True) for pinger in pingers)), "pings")
    elapsed, cpu = time.perf_counter() - start, running.cpu_s() - cpu
    latencies = [latency for pinger in pingers for latency in pinger.latencies]
    if len(latencies) != clients * round_trips:
        raise BenchError(f"{len(latencies)} round trips recorded, {clients * round_trips} expected")
    await close_all(pingers, running)
    return Echo(
        msgs_per_s=len(latencies) / elapsed,
        p50_us=percentile(latencies, 0.50) / 1000,
        p99_us=percentile(latencies, 0.99) / 1000,
        cpu_us=cpu / len(latencies) * 1e6,
    )


# Fan-out: one room, every message to every member.


@dataclass
class Deliveries:
    """What the members of one room received, checked as it arrives."""

    members: int
    counts: list[int] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)
    record_from: int = 0
    waiting: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    order_violations: int = 0

    def published(self, index: int) -> asyncio.Future[None]:
        """Expect message ``index`` at every member; the future resolves when it reached all of them."""
        self.counts.append(0)
        future = self.waiting[index] = asyncio.get_running_loop().create_future()
        return future

    def received(self, index: int, sent_at: int, at: int) -> str | None:
        if index >= len(self.counts):
            return f"message {index} arrived before it was published"
        self.counts[index] += 1
        if index >= self.record_from:
            self.latencies.append(at - sent_at)
        if self.counts[index] > self.members:
            return f"message {index} delivered more than once to a member"
        if self.counts[index] == self.members:
            self.waiting.pop(index).set_result(None)
        return None


class Roster:
    """Clients that join the room together: what the server's contract says their joins bring them.

    Where the server announces presence, each joiner is announced (``member_joined``) to every
    member that joined before it: ``count * (count - 1) / 2`` frames in all, whatever the order.
    """

    def __init__(self, contract: Contract, count: int) -> None:
        self.contract = contract
        self.count = count
        self.owed = count * (count - 1) // 2 if contract.presence else 0
        self.announced = 0
        self.complete: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.owed:
            self.complete.set_result(None)
        self.settled = False
        """Every join was answered and announced: a ``member_joined`` now is one too many."""

    def heard_join(self) -> str | None:
        """Count one ``member_joined``; what is wrong if it is one too many."""
        self.announced += 1
        if self.settled or self.announced > self.owed:
            return f"member_joined number {self.announced}, {self.owed} owed for {self.count} joins"
        if self.announced == self.owed:
            self.complete.set_result(None)
        return None


class Joiner(Client):
    """A client that joins the room (or subscribes to its feed), then hears who joins and leaves."""

    def __init__(self, roster: Roster | None = None) -> None:
        super().__init__()
        self.roster = roster or Roster(Contract(), 1)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reply: dict[str, Any] = {}
        """The ``joined`` or ``subscribed`` frame."""
        self.heard: dict[str, set[str]] = {"member_joined": set(), "member_left": set()}

    def on_text(self, text: str) -> None:
        self.on_message(text, json.loads(text))

    def on_message(self, text: str, message: dict[str, Any]) -> None:
        kind = message.get("type")
        roster = self.roster
        if not self.ready.done():
            if (problem := roster.contract.check_join(message, ROOM, members=roster.count)) is not None:
                self.fail(f"unexpected frame {text!r} ({problem})")
            else:
                self.reply = message
                self.ready.set_result(None)
        elif (
            kind in self.heard
            and roster.contract.presence
            and set(message) == {"type", "room", "sender"}
            and message["room"] == ROOM
            and isinstance(message["sender"], str)
        ):
            senders = self.heard[kind]
            if message["sender"] in senders:
                self.fail(f"{text!r} twice")
            elif kind == "member_left" and not self.closing:
                self.fail(f"unexpected frame {text!r} (nobody left)")
            elif kind == "member_joined" and (problem := roster.heard_join()) is not None:
                self.fail(f"unexpected frame {text!r} ({problem})")
            senders.add(message["sender"])
        else:
            self.fail(f"unexpected frame {text!r}")


J = TypeVar("J", bound=Joiner)


async def enter(running: Running, factory: Callable[[Roster], J], count: int) -> list[J]:
    """Open ``count`` members of the room: ``join`` on ``/ws``, or a stream's ``/ws/rooms/{room}``.

    Returns once every member has its reply and every ``member_joined`` the server owes them.
    """
    kind = running.kind
    roster = Roster(running.contract, count)
    clients = await connect(
        lambda: factory(roster), running.url(f"/ws/rooms/{ROOM}" if kind == "stream" else "/ws"), count
    )
    if kind in ("duplex", "room"):
        for client in clients:
            client.send({"type": "join", "room": ROOM})
    joined = asyncio.gather(*(client.ready for client in clients))
    await guarded(clients, joined, lambda: f"{sum(c.ready.done() for c in clients)} of {count} joined")
    await guarded(clients, roster.complete, lambda: f"{roster.announced} of {roster.owed} member_joined frames")
    roster.settled = True
    if roster.contract.presence:
        # Joins are answered one at a time: each counts the members with itself.
        counts = sorted(client.reply["members"] for client in clients)
        if counts != list(range(1, count + 1)):
            raise BenchError(f"joined counted members {counts}, not 1 to {count}")
    if roster.contract.resume and len({(client.reply["epoch"], client.reply["seq"]) for client in clients}) != 1:
        raise BenchError("members joined at different positions of the room, with no message published")
    return clients


class Member(Joiner):
    """A member of the room: checks ``seq`` order and reports each delivery with its latency."""

    def __init__(self, deliveries: Deliveries, roster: Roster | None = None) -> None:
        super().__init__(roster)
        self.deliveries = deliveries
        self.last_seq = 0

    def on_text(self, text: str) -> None:
        at = time.perf_counter_ns()
        message = json.loads(text)
        if message.get("type") == "message" and message.get("room") == ROOM and self.ready.done():
            if message["seq"] <= self.last_seq:
                self.deliveries.order_violations += 1
                self.fail(f"seq {message['seq']} after {self.last_seq}")
            self.last_seq = message["seq"]
            index, sent_at = message["text"].split(":")
            if (problem := self.deliveries.received(int(index), int(sent_at), at)) is not None:
                self.fail(problem)
        elif self.ready.done():
            self.on_message(text, message)
        else:
            self.on_message(text, message)
            # Every message of the room from now on follows the position the join reply names.
            self.last_seq = self.reply.get("seq", 0)


async def join(running: Running, deliveries: Deliveries, count: int) -> list[Member]:
    """Open ``count`` members of the room, each checking the room's messages against ``deliveries``."""
    return await enter(running, lambda roster: Member(deliveries, roster), count)


class HttpPublisher:
    """``POST /rooms/{room}/messages`` over one keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int, epoch: str | None) -> None:
        self.port = port
        self.epoch = epoch
        """The room's epoch its members joined at, which every answer names; None: the answer has none."""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, text: str) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        body = json.dumps({"text": text}).encode()
        self.writer.write(
            b"POST /rooms/%s/messages HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (ROOM.encode(), self.port, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        answer = json.loads(await self.reader.readexactly(length))
        shape = {"room", "seq"} | (set() if self.epoch is None else {"epoch"})
        if (
            status != b"202"
            or set(answer) != shape
            or answer["room"] != ROOM
            or not isinstance(answer["seq"], int)
            or answer.get("epoch") != self.epoch
        ):
            raise BenchError(f"POST answered {status.decode()} {answer}")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


@dataclass
class Fanout:
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us: float
    """Server CPU per delivery."""
    delivered: int
    expected: int
    order_violations: int


async def fanout(running: Running, members: int, messages: int, warmup: int, publish_by: str) -> Fanout:
    """``members`` members of one room; ``warmup`` then ``messages`` messages published one after the other.

    Each message is published (``say`` from the first member, or ``POST``) once the previous one
    has reached every member; its latency at each member is from just before publishing to its
    arrival there.
    """
    deliveries = Deliveries(members, record_from=warmup)
    room = await join(running, deliveries, members)
    http = HttpPublisher(running.port, room[0].reply.get("epoch"))
    total = warmup + messages
    cpu = 0.0
    try:
        for index in range(total):
            if index == warmup:
                cpu = running.cpu_s()
            arrived = deliveries.published(index)
            text = f"{index}:{time.perf_counter_ns()}"
            if publish_by == "say":
                room[0].send({"type": "say", "room": ROOM, "text": text})
            else:
                await guarded(room, http.post(text), f"POST of message {index}")
            await guarded(room, arrived, lambda i=index: f"message {i} at {deliveries.counts[i]} of {members} members")
        cpu = running.cpu_s() - cpu
    except BenchError as exc:
        delivered = sum(deliveries.counts)
        raise BenchError(f"{exc} ({delivered} of {len(deliveries.counts) * members} delivered)") from None
    finally:
        await http.close()
    delivered = sum(deliveries.counts)
    if delivered != total * members or deliveries.order_violations:
        raise BenchError(f"{delivered} of {total * members} delivered, {deliveries.order_violations} out of order")
    await close_all(room, running)
    recorded = deliveries.latencies
    return Fanout(
        p50_ms=percentile(recorded, 0.50) / 1e6,
        p99_ms=percentile(recorded, 0.99) / 1e6,
        max_ms=max(recorded) / 1e6,
        cpu_us=cpu / (messages * members) * 1e6,
        delivered=delivered,
        expected=total * members,
        order_violations=deliveries.order_violations,
    )


# Idle memory: what one more joined, silent connection costs.


class Idle(Joiner):
    """A connection that has joined the room (or, on the raw echo, is merely open) and says nothing."""


async def idle(running: Running, connections: int, warmup: int) -> float:
    """KiB of server RSS per idle joined connection, over ``connections`` of them."""

    async def open_joined(count: int) -> list[Idle]:
        if running.kind == "echo":
            return await connect(Idle, running.url("/ws"), count)
        return await enter(running, Idle, count)

    # Warm-up: the first connections pay for imports, caches and allocator arenas.
    await close_all(await open_joined(warmup), running)
    before = running.rss_kib()
    clients = await open_joined(connections)
    after = running.rss_kib()
    await close_all(clients, running)
    return (after - before) / connections
