"""Business logic, one case per client message type; no socket code.

:func:`handle` maps a validated message to the reply its sender gets (or ``None``) and is
unit-testable with a :class:`~.manager.ConnectionManager` and no server. :func:`dispatch` is
what an endpoint calls for each inbound frame. Put new message types here: add the model to
``models.py`` and a ``case`` below.
"""

from __future__ import annotations

from typing import assert_never

from .manager import Connection, ConnectionManager
from .models import ClientMessage, Error, Join, Joined, Leave, Left, Ping, Pong, Say, ServerMessage, encode, parse


async def handle(message: ClientMessage, connection: Connection, manager: ConnectionManager) -> ServerMessage | None:
    """Carry out one client message for ``connection``.

    Returns:
        The reply for the sender: ``pong``, ``joined``, ``left``, or an ``error`` with code
        ``not_member`` for a ``say`` to a room the sender has not joined. ``None`` for a
        ``say`` that was published: the sender receives it as a room member.
    """
    match message:
        case Ping(id=ping_id):
            return Pong(id=ping_id)
        case Join(room=room):
            return Joined(room=room, members=await manager.join(connection, room))
        case Leave(room=room):
            await manager.leave(connection, room)
            return Left(room=room)
        case Say(room=room, text=text):
            if room not in connection.rooms:
                return Error(code="not_member", detail="Join the room before saying anything in it.")
            await manager.publish(room, text, sender=connection.id)
            return None
        case _:
            assert_never(message)


async def dispatch(frame: str | bytes, connection: Connection, manager: ConnectionManager) -> None:
    """Parse one inbound frame, handle it, and queue the reply (if any) for the sender.

    A frame that is not a valid message gets an error frame; the connection stays open.
    """
    message = parse(frame)
    reply = message if isinstance(message, Error) else await handle(message, connection, manager)
    if reply is not None:
        connection.deliver(encode(reply))
