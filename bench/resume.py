"""What resume and presence cost: ``uv run python -m bench.resume`` (``--quick``: a few seconds per measurement).

Issue 21's figures, measured on the rendered ``low_level`` service (memory broker, text mode),
started the way its run command starts it and pinned to another core than the client
(``bench/servers.py``). Each round starts, for each spec, a fresh server of every setting in turn
(the order rotates from round to round); a row's figures are medians over the rounds, its ratios
to the spec's baseline medians of per-round ratios with min..max, as ``python -m bench`` does.

- publish: history on (the default) against off (``WS_HISTORY_SIZE=0``): ``POST`` to delivery
  latency and server CPU per message, one message at a time, to a room of 1 member and of 1,000.
- memory: server RSS per room after filling rooms of no member with ``WS_HISTORY_SIZE`` messages
  each (history on against off), beside what the history itself counts (``rooms_history_bytes``).
- presence: one client joins, then leaves, a room of 1,000 members (each fans out
  ``member_joined`` / ``member_left`` to the 1,000), and an empty room; presence events on (the
  default) against ``WS_PRESENCE_EVENTS=false``.
- storm: the members of a room drop at once (no close frame), messages are published meanwhile,
  and they all reconnect at once joining with ``since``/``epoch`` while messages go on being
  published: time until each has every message it missed, what was replayed, server CPU; history
  on against off (where the join says ``recovered:false`` and nothing is replayed). Once with
  presence events on (the comeback of n members then costs n(n-1)/2 ``member_joined`` frames),
  once with them off.

Every client checks what it measures and the run fails (exit 1) on the first violation: a join
reply with the wrong fields, a presence frame missing, doubled or unexpected, a room message out of
``seq`` order, a history that does not hold exactly the last messages, and, after the storm, any
``seq`` missing or received twice across each client's drop and resume.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import workloads
from .__main__ import Spec, run_once, spread
from .servers import BenchError, Contract, Running, Server, ServiceError, cores, render, variant
from .workloads import ROOM, Client, Joiner, Roster, close_all, connect, enter, guarded, percentile

STYLE = "low_level"
HISTORY_SIZE = 100
"""``WS_HISTORY_SIZE``'s default: the messages each room keeps, which the history-on servers run with."""


@dataclass(frozen=True)
class Sizes:
    publish_messages: int
    """Messages published to the room of one member."""
    fanout_members: int
    fanout_messages: int
    memory_rooms: int
    memory_text: int
    """Characters of each message's text in the memory spec."""
    presence_members: int
    presence_cycles: int
    storm_clients: int
    storm_missed: int
    """Messages published while every member is away."""
    storm_live: int
    """Most messages published while the members come back (at :data:`STORM_RATE_PER_S`)."""
    rounds: int


FULL = Sizes(
    publish_messages=2000,
    fanout_members=1000,
    fanout_messages=50,
    memory_rooms=100,
    memory_text=200,
    presence_members=1000,
    presence_cycles=20,
    storm_clients=1000,
    storm_missed=50,
    storm_live=40,
    rounds=3,
)
QUICK = Sizes(
    publish_messages=200,
    fanout_members=100,
    fanout_messages=10,
    memory_rooms=20,
    memory_text=200,
    presence_members=100,
    presence_cycles=5,
    storm_clients=100,
    storm_missed=20,
    storm_live=10,
    rounds=1,
)

STORM_RATE_PER_S = 50.0
"""Messages per second published while the storm's members come back (the junction of replay and live)."""
WARM_ROOMS = 10
"""Rooms filled before the memory spec reads the RSS it starts from (imports, caches, allocator arenas)."""
IDLE_S = 2.0
"""Seconds after which a keep-alive connection is reopened rather than reused (the server closes at 5)."""
HTTP_CONNECTIONS = 4
"""Keep-alive connections filling the memory spec's rooms: ``WS_POST_CONCURRENCY``'s default."""


# HTTP: POST a message, GET the history or the metrics.


class Http:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used_at = 0.0

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is not None and time.monotonic() - self.used_at > IDLE_S:
            await self.close()  # the server may be closing it (keep-alive timeout): never send on it
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.used_at = time.monotonic()
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        status = int(answer.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in answer.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        return status, await self.reader.readexactly(length)

    async def post(self, room: str, text: str) -> dict[str, Any]:
        """Publish ``text`` to ``room``: the 202 answer, checked (``room``, ``seq``, ``epoch``)."""
        status, body = await self.request("POST", f"/rooms/{room}/messages", json.dumps({"text": text}).encode())
        answer: dict[str, Any] = json.loads(body)
        if status != 202 or set(answer) != {"room", "seq", "epoch"} or answer["room"] != room:
            raise BenchError(f"POST to {room} answered {status} {answer}")
        return answer

    async def get(self, path: str) -> bytes:
        status, body = await self.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status} {body[:200]!r}")
        return body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
            self.reader = self.writer = None


def metric(exposition: bytes, name: str) -> float:
    """The value of the unlabelled sample ``name`` in a Prometheus text exposition."""
    for line in exposition.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise BenchError(f"no {name} in /metrics")


# Memory: what a room's history costs.


@dataclass
class Memory:
    kib_per_room: float
    """Server RSS after filling the rooms, minus before, per room."""
    counted_kib_per_room: float
    """``rooms_history_bytes`` per room: what the history counts against ``WS_HISTORY_MAX_BYTES``."""
    frame_bytes: float
    """Mean size of one kept ``message`` frame (its compact JSON)."""
    kept: int
    """Messages the rooms' histories held, summed over the rooms (checked: the last ``WS_HISTORY_SIZE`` each)."""


async def fill(port: int, rooms: list[str], messages: int, text: str) -> None:
    """Publish ``messages`` messages to each room of ``rooms``, checking each room's ``seq`` runs 1, 2, ..."""

    async def one_connection(mine: list[str]) -> None:
        http = Http(port)
        try:
            for room in mine:
                for seq in range(1, messages + 1):
                    answer = await http.post(room, text)
                    if answer["seq"] != seq:
                        raise BenchError(f"POST number {seq} to {room} answered seq {answer['seq']}")
        finally:
            await http.close()

    await asyncio.gather(*(one_connection(rooms[i::HTTP_CONNECTIONS]) for i in range(HTTP_CONNECTIONS)))


async def memory(running: Running, rooms: int, text_chars: int, history_size: int) -> Memory:
    """RSS per room after ``rooms`` rooms (no member) each got :data:`HISTORY_SIZE` messages of ``text_chars``."""
    text = "x" * text_chars
    await fill(running.port, [f"warm-{i}" for i in range(WARM_ROOMS)], HISTORY_SIZE, text)
    http = Http(running.port)
    try:
        counted = metric(await http.get("/metrics"), "rooms_history_bytes")
    finally:
        await http.close()  # idle through the fill, it would outlive the server's keep-alive timeout
    before = running.rss_kib()
    names = [f"room-{i}" for i in range(rooms)]
    await fill(running.port, names, HISTORY_SIZE, text)
    after = running.rss_kib()
    http = Http(running.port)
    try:
        counted = metric(await http.get("/metrics"), "rooms_history_bytes") - counted
        kept, frame_bytes = 0, []
        for room in names:
            answer = json.loads(await http.get(f"/rooms/{room}/messages?since=0"))
            seqs = [message["seq"] for message in answer["messages"]]
            expected = list(range(HISTORY_SIZE - history_size + 1, HISTORY_SIZE + 1))
            if (
                answer["seq"] != HISTORY_SIZE
                or seqs != expected
                or answer["complete"] != (history_size >= HISTORY_SIZE)
            ):
                raise BenchError(f"history of {room}: seq {answer['seq']}, seqs {seqs[:3]}.. not {expected[:3]}..")
            kept += len(seqs)
            frame_bytes += [len(json.dumps(message, separators=(",", ":"))) for message in answer["messages"]]
    finally:
        await http.close()
    return Memory(
        kib_per_room=(after - before) / rooms,
        counted_kib_per_room=counted / rooms / 1024,
        frame_bytes=statistics.fmean(frame_bytes) if frame_bytes else 0.0,
        kept=kept,
    )


# Presence: one join and one leave in a room of many members.


class Tally:
    """What the members of the room hear of one join or leave of the probe: each exactly once."""

    def __init__(self, members: int) -> None:
        self.members = members
        self.kind: str | None = None
        self.sender: str | None = None
        self.heard: set[Client] = set()
        self.done: asyncio.Future[int] | None = None

    def expect(self, kind: str) -> asyncio.Future[int]:
        """Expect ``kind`` at every member; the future resolves (``perf_counter_ns``) when the last one has it."""
        self.kind, self.heard = kind, set()
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def hear(self, member: Client, message: dict[str, Any]) -> str | None:
        at = time.perf_counter_ns()
        if message["type"] != self.kind or self.done is None or self.done.done():
            return f"{message['type']} while expecting {self.kind}"
        if self.sender is None:
            self.sender = message["sender"]
        if message["sender"] != self.sender or member in self.heard:
            return f"{message} heard twice or from another sender than {self.sender}"
        self.heard.add(member)
        if len(self.heard) == self.members:
            self.done.set_result(at)
        return None


class Watcher(Joiner):
    """A member of the room that, once the room is full, hears the probe join and leave."""

    tally: Tally | None = None

    def on_text(self, text: str) -> None:
        message = json.loads(text)
        if self.tally is not None and message.get("type") in ("member_joined", "member_left") and not self.closing:
            if set(message) != {"type", "room", "sender"} or message["room"] != ROOM:
                self.fail(f"unexpected frame {text!r}")
            elif (problem := self.tally.hear(self, message)) is not None:
                self.fail(problem)
        else:
            self.on_message(text, message)


class Probe(Client):
    """The client that joins and leaves: each reply resolves the future :meth:`ask` returned."""

    def __init__(self) -> None:
        super().__init__()
        self.reply: asyncio.Future[tuple[int, dict[str, Any]]] | None = None

    def ask(self, message: dict[str, Any]) -> asyncio.Future[tuple[int, dict[str, Any]]]:
        self.reply = asyncio.get_running_loop().create_future()
        self.send(message)
        return self.reply

    def on_text(self, text: str) -> None:
        at = time.perf_counter_ns()
        if self.reply is None or self.reply.done():
            self.fail(f"unexpected frame {text!r}")
        else:
            self.reply.set_result((at, json.loads(text)))


@dataclass
class Presence:
    join_reply_us: float
    """A join of the full room: from sending it to its ``joined``."""
    join_all_ms: float
    """... to the last member's ``member_joined``."""
    join_cpu_us: float
    leave_reply_us: float
    leave_all_ms: float
    leave_cpu_us: float
    empty_join_reply_us: float
    """The same join and leave in an empty room."""
    empty_cpu_us: float
    """Server CPU of one join and one leave in an empty room."""
    cpu_per_member_us: float
    """(join + leave CPU in the full room - in the empty one) / members."""


async def presence(running: Running, members: int, cycles: int, warmup: int = 2) -> Presence:
    """A probe joins and leaves ``ROOM`` (``members`` members) ``warmup + cycles`` times, then an empty room."""
    room = await enter(running, lambda roster: Watcher(roster), members)
    events = running.contract.presence
    tally = Tally(members)
    for watcher in room:
        watcher.tally = tally
    (probe,) = await connect(Probe, running.url("/ws"), 1)
    everyone: list[Client] = [*room, probe]
    figures: dict[str, list[float]] = defaultdict(list)

    async def step(
        name: str, message: dict[str, Any], reply_type: str, fanout: str | None, count: int, *, record: bool
    ) -> None:
        heard = tally.expect(fanout) if fanout else None
        cpu = running.cpu_s()
        start = time.perf_counter_ns()
        at, reply = await guarded(everyone, probe.ask(message), f"{name}: no reply")
        if reply.get("type") != reply_type or reply.get("room") != message["room"]:
            raise BenchError(f"{name}: {reply} is not the reply to {message}")
        if reply_type == "joined" and reply.get("members") != count:
            raise BenchError(f"{name}: {reply} does not count {count} members")
        last = at
        if heard is not None:
            last = await guarded(everyone, heard, lambda: f"{name}: {len(tally.heard)} of {members} heard it")
        cpu = running.cpu_s() - cpu
        if not record:  # the first cycles pay for caches and allocator arenas
            return
        figures[f"{name}_cpu"].append(cpu * 1e6)
        figures[f"{name}_reply"].append((at - start) / 1e3)
        figures[f"{name}_all"].append((last - start) / 1e6)

    for prefix, target, fanout, count in (("", ROOM, events, members + 1), ("empty_", "empty", False, 1)):
        for cycle in range(warmup + cycles):
            join, leave = {"type": "join", "room": target}, {"type": "leave", "room": target}
            record = cycle >= warmup
            await step(f"{prefix}join", join, "joined", "member_joined" if fanout else None, count, record=record)
            await step(f"{prefix}leave", leave, "left", "member_left" if fanout else None, 0, record=record)
    for watcher in room:
        watcher.tally = None
    await close_all(everyone, running)
    median = {name: statistics.median(values) for name, values in figures.items()}
    empty_cpu = median["empty_join_cpu"] + median["empty_leave_cpu"]
    return Presence(
        join_reply_us=median["join_reply"],
        join_all_ms=median["join_all"],
        join_cpu_us=median["join_cpu"],
        leave_reply_us=median["leave_reply"],
        leave_all_ms=median["leave_all"],
        leave_cpu_us=median["leave_cpu"],
        empty_join_reply_us=median["empty_join_reply"],
        empty_cpu_us=empty_cpu,
        cpu_per_member_us=(median["join_cpu"] + median["leave_cpu"] - empty_cpu) / members,
    )


# Reconnect storm: every member drops at once and comes back resuming.


class Stormer(Joiner):
    """A member of the room before the storm: records the ``seq`` of every room message it gets."""

    def __init__(self, roster: Roster) -> None:
        super().__init__(roster)
        self.seqs: list[int] = []

    def on_text(self, text: str) -> None:
        message = json.loads(text)
        if message.get("type") == "message" and message.get("room") == ROOM and self.ready.done():
            self.seqs.append(message["seq"])
        else:
            self.on_message(text, message)


@dataclass
class Comeback:
    """What the members coming back in the storm share."""

    resume: bool
    """Whether their joins are owed ``recovered:true`` (history on)."""
    epoch: str
    start: int = 0
    """``perf_counter_ns`` when the storm started."""
    caught_up: int = 0
    all_caught_up: asyncio.Future[None] | None = None
    clients: int = 0
    presence_frames: int = 0


class Rejoiner(Client):
    """A member coming back: joins with the ``since`` and ``epoch`` of the last message its drop left it.

    Caught up once it has every message up to the room's position its ``joined`` names (at once
    when it did not recover: nothing is replayed then).
    """

    def __init__(self, before: Stormer, comeback: Comeback) -> None:
        super().__init__()
        self.before = before
        self.comeback = comeback
        self.since = before.seqs[-1]
        self.reply: dict[str, Any] | None = None
        self.seqs: list[int] = []
        self.latency_ns = 0
        self.joined_by: set[str] = set()

    def on_ws_connected(self, transport: Any) -> None:
        super().on_ws_connected(transport)
        self.send({"type": "join", "room": ROOM, "since": self.since, "epoch": self.comeback.epoch})

    def done(self, at: int) -> None:
        comeback = self.comeback
        self.latency_ns = at - comeback.start
        comeback.caught_up += 1
        if comeback.caught_up == comeback.clients and comeback.all_caught_up is not None:
            comeback.all_caught_up.set_result(None)

    def on_text(self, text: str) -> None:
        at = time.perf_counter_ns()
        message = json.loads(text)
        kind = message.get("type")
        if self.reply is None:
            keys = {"type", "room", "members", "epoch", "seq", "recovered"}
            if kind != "joined" or set(message) != keys or message["room"] != ROOM:
                self.fail(f"{text!r} is not the reply to a join with since")
            elif message["recovered"] is not self.comeback.resume:
                self.fail(f"{text!r} after {self.since} missed messages (history {self.comeback.resume})")
            elif message["recovered"] and message["epoch"] != self.comeback.epoch:
                self.fail(f"{text!r} recovered under another epoch than {self.comeback.epoch}")
            else:
                self.reply = message
                if not message["recovered"] or message["seq"] <= self.since:
                    self.done(at)
        elif kind == "message" and message.get("room") == ROOM:
            seq = message["seq"]
            self.seqs.append(seq)
            if not self.latency_ns and seq >= self.reply["seq"]:
                self.done(at)
        elif kind == "member_joined" and message.get("room") == ROOM and message["sender"] not in self.joined_by:
            self.joined_by.add(message["sender"])
            self.comeback.presence_frames += 1
        elif not (kind == "member_left" and self.closing):
            self.fail(f"unexpected frame {text!r}")

    def replayed(self) -> int:
        """Messages sent with the ``joined`` (``seq`` up to the room's position it named)."""
        assert self.reply is not None
        return sum(1 for seq in self.seqs if seq <= self.reply["seq"])

    def problems(self, top: int) -> tuple[int, int]:
        """(seqs missing, seqs received twice or out of order) across the drop and the comeback, up to ``top``."""
        assert self.reply is not None
        if self.comeback.resume:
            received, first = self.before.seqs + self.seqs, self.before.seqs[0]
        else:
            received, first = self.seqs, self.reply["seq"] + 1
        expected = list(range(first, top + 1))
        if received == expected:
            return 0, 0
        return len(set(expected) - set(received)), len(received) - len(set(received)) + (
            received != sorted(set(received))
        )


@dataclass
class Storm:
    all_resumed_ms: float
    """From the first reconnect to the last member having every message it missed."""
    p50_ms: float
    """Each member's time from the first reconnect until it has every message it missed."""
    p99_ms: float
    cpu_ms: float
    """Server CPU from the first reconnect to the last member caught up."""
    replayed: int
    """Messages replayed to the members (sent with their ``joined``), summed over the rounds."""
    presence_frames: int
    """``member_joined`` frames the comeback caused."""
    gaps: int
    """Messages missing or received twice across a member's drop and comeback (must be 0)."""


async def storm(running: Running, clients: int, missed: int, live: int) -> Storm:
    """``clients`` members drop at once, ``missed`` messages go out, all come back with ``since`` amid ``live`` more."""
    resume = history_size(running) > 0
    members = await enter(running, Stormer, clients)
    http = Http(running.port)
    epoch = members[0].reply["epoch"]

    async def publish(count: int) -> int:
        top = 0
        for _ in range(count):
            answer = await http.post(ROOM, "storm")
            if resume and answer["epoch"] != epoch:
                raise BenchError(f"POST answered {answer}: the epoch changed from {epoch}")
            top = answer["seq"]
        return top

    async def everyone_has(group: list[Any], top: int) -> None:
        while not all(client.seqs and client.seqs[-1] >= top for client in group):
            await asyncio.sleep(0.005)

    try:
        top = await publish(3)
        await guarded([*members], everyone_has(members, top), f"messages up to {top}")
        for member in members:  # all at once, without a close frame
            member.closing = True
            assert member.transport is not None
            member.transport.disconnect()
        await asyncio.gather(*(member.transport.wait_disconnected() for member in members if member.transport))
        # The server notices the drops one by one (and, with presence events, owes member_left to the rest).
        await asyncio.to_thread(running.wait_idle, workloads.TIMEOUT_S)
        await publish(missed)

        comeback = Comeback(resume=resume, epoch=epoch, clients=clients)
        comeback.all_caught_up = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()

        async def publish_live() -> None:
            for _ in range(live):
                if stop.is_set():
                    return
                await publish(1)
                await asyncio.sleep(1 / STORM_RATE_PER_S)

        waiting = iter(members)
        cpu = running.cpu_s()
        comeback.start = time.perf_counter_ns()
        publisher = asyncio.ensure_future(publish_live())
        back = await connect(lambda: Rejoiner(next(waiting), comeback), running.url("/ws"), clients)
        returned: list[Client] = [*back]
        await guarded(returned, comeback.all_caught_up, lambda: f"{comeback.caught_up} of {clients} caught up")
        elapsed, cpu = time.perf_counter_ns() - comeback.start, running.cpu_s() - cpu
        stop.set()
        await guarded(returned, publisher, "the live publisher")
        top = await publish(1)
        await guarded(returned, everyone_has(back, top), f"messages up to {top} after the storm")
        owed = clients * (clients - 1) // 2 if running.contract.presence else 0
        await guarded(returned, everyone_has_joins(comeback, owed), lambda: f"{comeback.presence_frames} of {owed}")
    finally:
        await http.close()
    gaps = sum(sum(client.problems(top)) for client in back)
    if gaps:
        raise BenchError(f"{gaps} messages missing or doubled across the storm (history {resume})")
    await close_all(returned, running)
    latencies = [client.latency_ns for client in back]
    return Storm(
        all_resumed_ms=elapsed / 1e6,
        p50_ms=percentile(latencies, 0.50) / 1e6,
        p99_ms=percentile(latencies, 0.99) / 1e6,
        cpu_ms=cpu * 1e3,
        replayed=sum(client.replayed() for client in back),
        presence_frames=comeback.presence_frames,
        gaps=gaps,
    )


async def everyone_has_joins(comeback: Comeback, owed: int) -> None:
    while comeback.presence_frames < owed:
        await asyncio.sleep(0.005)
    if comeback.presence_frames != owed:
        raise BenchError(f"{comeback.presence_frames} member_joined frames, {owed} owed")


# The specs, the rounds and the report.


def history_size(running: Running) -> int:
    """The ``WS_HISTORY_SIZE`` ``running`` was started with."""
    assert running.server is not None
    return int(running.server.env.get("WS_HISTORY_SIZE", HISTORY_SIZE))


def with_env(server: Server, name: str, contract: Contract | None = None, **env: str) -> Server:
    return dataclasses.replace(server, name=name, env={**server.env, **env}, contract=contract or server.contract)


def specs(sizes: Sizes, on: Server) -> list[Spec]:
    off = with_env(on, "history-off", WS_HISTORY_SIZE="0")
    silent = dataclasses.replace(on.contract, presence=False)
    events_on, events_off = with_env(on, "events-on"), with_env(on, "events-off", silent, WS_PRESENCE_EVENTS="false")
    quiet_on = with_env(on, "history-on", silent, WS_PRESENCE_EVENTS="false")
    quiet_off = with_env(off, "history-off", silent, WS_PRESENCE_EVENTS="false")
    storm_name = (
        f"{sizes.storm_clients} members drop at once, {sizes.storm_missed} messages, all come back "
        f"(at most {sizes.storm_live} more meanwhile)"
    )
    assert sizes.storm_missed + sizes.storm_live + 1 < HISTORY_SIZE, "the storm must stay within the history"
    fanout = ("p50_ms", "p99_ms", "cpu_us")
    return [
        Spec(
            f"publish: POST to 1 member x {sizes.publish_messages} messages, one at a time",
            off,
            [on],
            lambda r: workloads.fanout(r, 1, sizes.publish_messages, 20, "POST"),
            fanout,
        ),
        Spec(
            f"publish: POST to {sizes.fanout_members} members x {sizes.fanout_messages} messages, one at a time",
            off,
            [on],
            lambda r: workloads.fanout(r, sizes.fanout_members, sizes.fanout_messages, 3, "POST"),
            fanout,
        ),
        Spec(
            f"memory: {sizes.memory_rooms} rooms x {HISTORY_SIZE} messages of {sizes.memory_text} characters",
            off,
            [on],
            lambda r: memory(r, sizes.memory_rooms, sizes.memory_text, history_size(r)),
            (),  # no ratio: a room of the history-off server costs next to nothing (DIFFERENCES)
        ),
        Spec(
            f"presence: join and leave a room of {sizes.presence_members} members, and an empty room",
            events_off,
            [events_on],
            lambda r: presence(r, sizes.presence_members, sizes.presence_cycles),
            ("join_cpu_us", "leave_cpu_us", "join_all_ms"),
        ),
        *(
            Spec(
                f"storm{suffix}: {storm_name}",
                baseline,
                [server],
                lambda r: storm(r, sizes.storm_clients, sizes.storm_missed, sizes.storm_live),
                ("all_resumed_ms", "p99_ms", "cpu_ms"),
            )
            for suffix, baseline, server in (("", off, on), (" (presence events off)", quiet_off, quiet_on))
        ),
    ]


DIFFERENCES = ("kib_per_room",)
"""Figures reported as a difference from the baseline's figure of the same round, not a ratio."""
COUNTS = ("delivered", "expected", "order_violations", "kept", "replayed", "presence_frames", "gaps")
"""Figures summed over the rounds; every other figure is the median over the rounds."""


def report(spec: Spec, figures: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n## {spec.name} (medians over the rounds; counts summed)")
    base = figures[spec.baseline.name]
    names = list(base[0])
    rows = [["server", *names]]
    for server in [spec.baseline, *spec.servers]:
        runs = figures[server.name]
        rows.append(
            [
                server.name,
                *(
                    str(int(sum(run[n] for run in runs)))
                    if n in COUNTS
                    else f"{statistics.median(r[n] for r in runs):.1f}"
                    for n in names
                ),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    differences = [n for n in names if n in DIFFERENCES]
    for title, figure_names, compare in (
        ("ratio", spec.ratios, lambda run, ref: run / ref),
        ("difference", differences, lambda run, ref: run - ref),
    ):
        if not figure_names:
            continue
        print(f"{title} to {spec.baseline.name}: median of per-round {title}s (min..max)")
        for server in spec.servers:
            cells = []
            for n in figure_names:
                pairs = zip(figures[server.name], base, strict=True)
                values = [compare(run[n], ref[n]) for run, ref in pairs if ref[n] or title == "difference"]
                if not values:
                    cells.append(f"{n} n/a")
                elif title == "ratio":
                    cells.append(f"{n} {spread(values)}")
                else:
                    low, middle, high = min(values), statistics.median(values), max(values)
                    cells.append(f"{n} {middle:+.1f} ({low:+.1f}..{high:+.1f})")
            print(f"  {server.name}: " + "  ".join(cells))


def interleaved(rounds: int, chosen: list[Spec], server_cores: set[int] | None) -> Iterator[tuple[Spec, Server, Any]]:
    started_at = time.monotonic()
    for round_index in range(rounds):
        for spec in chosen:
            lineup = [spec.baseline, *spec.servers]
            shift = round_index % len(lineup)
            for server in lineup[shift:] + lineup[:shift]:
                figures = run_once(server, spec.measure, server_cores)
                shown = ", ".join(f"{name} {value:.1f}" for name, value in figures.items())
                print(f"  {spec.name.split(':')[0]}, {server.name}: {shown}", flush=True)
                yield spec, server, figures
        print(f"round {round_index + 1}/{rounds} done ({time.monotonic() - started_at:.0f} s)", flush=True)


SPEC_KEYS = ("publish", "memory", "presence", "storm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resume", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round per spec")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 3, or 1 with --quick)")
    parser.add_argument("--only", nargs="+", choices=SPEC_KEYS, help="run only these specs")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or sizes.rounds
    client_cores, server_cores = cores()
    if client_cores is not None:
        os.sched_setaffinity(0, client_cores)
    print(
        f"{STYLE}, memory broker; client on cores {client_cores or 'any'}, servers on {server_cores or 'any'}; "
        f"{rounds} round(s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as workdir:
        # uvicorn counts a closing WebSocket against the HTTP limit until its teardown: over 1,000
        # closing at once, /health would answer 503 while the run waits for the server to settle.
        project = render(Path(workdir) / STYLE, STYLE, "HEAD")
        on = with_env(variant(project, STYLE, "history-on"), "history-on", WS_MAX_HTTP_CONNECTIONS="5000")
        if not (on.contract.resume and on.contract.presence):
            print(f"BENCHMARK FAILED: the {STYLE} render has no history.py or presence.py", file=sys.stderr)
            return 1
        chosen = [spec for spec in specs(sizes, on) if not args.only or spec.name.split(":")[0].split()[0] in args.only]
        results: dict[str, dict[str, list[dict[str, float]]]] = {spec.name: defaultdict(list) for spec in chosen}
        try:
            for spec, server, figures in interleaved(rounds, chosen, server_cores):
                results[spec.name][server.name].append(figures)
        except ServiceError as exc:  # BenchError: a correctness check; or a server that did not start or settle
            print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
            return 1
    for spec in chosen:
        report(spec, results[spec.name])
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
