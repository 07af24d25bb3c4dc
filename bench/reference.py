"""Reference servers the benchmark measures the rendered services against.

``python -m bench.reference echo --port P``: a raw Litestar ``@websocket`` echo (what Litestar
itself costs on the same transport). ``python -m bench.reference room --port P``: one room with a
plain sequential-await broadcast (``for member in members: await member.send_text(frame)``) under
one lock, reached by ``join``/``say`` on ``/ws`` and by ``POST /rooms/{room}/messages``, speaking
the subset of the service's wire contract the benchmark uses. ``python -m bench.reference stream
--port P``: the same room as raw ``@websocket_stream`` members fed by a queue each (Litestar's
stream machinery alone). All serve ``GET /health`` with the same counts as the service and run
under uvicorn with the options of the generated run command that bear on speed (uvloop, the same
WebSocket implementation, ``ws_max_size``), so only the application code differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import uvicorn
from litestar import Litestar, WebSocket, get, post, websocket, websocket_stream
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

MAX_MESSAGE_BYTES = 65536
"""The generated run command's ``ws_max_size`` (``WS_MAX_MESSAGE_BYTES``' default)."""

UVICORN_WS = "websockets-sansio"
"""uvicorn's WebSocket implementation under the generated services (their ``BoundedWebSocketProtocol``
extends it): the references run on the same one, so that the transport's cost is the same."""


class Counts:
    """Open sockets and the one room's members, for ``/health``."""

    connections = 0
    members: dict[WebSocket[Any, Any, Any], None] = {}  # noqa: RUF012 (one process, one room)
    queues: dict[asyncio.Queue[str], None] = {}  # noqa: RUF012 (the stream room's members)
    rooms: set[str] = set()  # noqa: RUF012
    seq = 0
    lock: asyncio.Lock | None = None


@get("/health")
async def health() -> dict[str, object]:
    """The service's health body: open sockets and non-empty rooms."""
    members = Counts.members or Counts.queues
    return {"status": "ok", "connections": Counts.connections, "rooms": len(Counts.rooms) if members else 0}


@websocket("/ws")
async def echo(socket: WebSocket[Any, Any, Any]) -> None:
    """Send every text frame back as it came."""
    await socket.accept()
    Counts.connections += 1
    try:
        async for data in socket.iter_data("text"):
            await socket.send_data(data, "text")
    finally:
        Counts.connections -= 1


async def broadcast(room: str, text: str, sender: str) -> int:
    """Number the message, then await each member's send in turn (one broadcast at a time)."""
    if Counts.lock is None:
        Counts.lock = asyncio.Lock()
    async with Counts.lock:
        Counts.seq += 1
        frame = json.dumps({"type": "message", "room": room, "text": text, "sender": sender, "seq": Counts.seq})
        for member in list(Counts.members):
            try:
                await member.send_text(frame)
            except (WebSocketDisconnect, OSError):
                Counts.members.pop(member, None)
        return Counts.seq


@websocket("/ws")
async def room(socket: WebSocket[Any, Any, Any]) -> None:
    """``join`` (answered ``joined``), ``say`` (broadcast) and ``ping`` (``pong``) for one room."""
    await socket.accept()
    Counts.connections += 1
    sender = str(id(socket))
    try:
        async for data in socket.iter_data("text"):
            message = json.loads(data)
            if message["type"] == "join":
                Counts.members[socket] = None
                Counts.rooms.add(message["room"])
                reply = {"type": "joined", "room": message["room"], "members": len(Counts.members)}
                await socket.send_text(json.dumps(reply))
            elif message["type"] == "say":
                await broadcast(message["room"], message["text"], sender)
            elif message["type"] == "ping":
                await socket.send_text(json.dumps({"type": "pong", "id": message.get("id")}))
    finally:
        Counts.members.pop(socket, None)
        Counts.connections -= 1


@websocket_stream("/ws/rooms/{room_name:str}", warn_on_data_discard=False)
async def stream_room(room_name: FromPath[str]) -> AsyncGenerator[str, None]:
    """A raw ``@websocket_stream`` member: ``subscribed``, then each frame put on its own queue.

    What Litestar's stream machinery costs by itself: the floor of the rendered stream variant.
    """
    queue: asyncio.Queue[str] = asyncio.Queue()
    Counts.queues[queue] = None
    Counts.connections += 1
    Counts.rooms.add(room_name)
    try:
        yield json.dumps({"type": "subscribed", "room": room_name, "members": len(Counts.queues)})
        while True:
            yield await queue.get()
    finally:
        Counts.queues.pop(queue, None)
        Counts.connections -= 1
        if not Counts.queues:
            Counts.rooms.discard(room_name)


@post("/rooms/{room_name:str}/messages", status_code=HTTP_202_ACCEPTED)
async def stream_publish(room_name: FromPath[str], data: JSONBody[dict[str, str]]) -> dict[str, object]:
    """Number the message and put the frame on every stream member's queue."""
    Counts.seq += 1
    message = {"type": "message", "room": room_name, "text": data["text"], "sender": "http", "seq": Counts.seq}
    frame = json.dumps(message)
    for queue in Counts.queues:
        queue.put_nowait(frame)
    return {"room": room_name, "seq": Counts.seq}


@post("/rooms/{room_name:str}/messages", status_code=HTTP_202_ACCEPTED)
async def publish(room_name: FromPath[str], data: JSONBody[dict[str, str]]) -> dict[str, object]:
    """Broadcast ``data["text"]`` as sender ``"http"``; answer with the seq it got."""
    return {"room": room_name, "seq": await broadcast(room_name, data["text"], "http")}


UVICORN_OPTIONS: dict[str, Any] = {"ws": UVICORN_WS, "ws_max_size": MAX_MESSAGE_BYTES}
"""The options of ``uvicorn.run`` that bear on speed (the rest keep uvicorn's defaults)."""


def build_app(kind: str) -> Litestar:
    """The reference app of ``kind``: ``"echo"``, ``"room"`` or ``"stream"``."""
    socket_route = {"echo": echo, "room": room, "stream": stream_room}[kind]
    return Litestar(route_handlers=[socket_route, stream_publish if kind == "stream" else publish, health])


def main(argv: list[str] | None = None) -> None:
    """Serve the ``echo`` or ``room`` reference on 127.0.0.1:``--port``."""
    parser = argparse.ArgumentParser(prog="bench.reference")
    parser.add_argument("kind", choices=["echo", "room", "stream"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(build_app(args.kind), host="127.0.0.1", port=args.port, timeout_graceful_shutdown=5, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
