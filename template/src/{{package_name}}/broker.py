"""The delivery seam between the connection manager and whatever carries room messages.

A broker numbers each message of a room (``seq``) and hands it to every process that has
members in that room. The manager never fans out by itself: it publishes through the broker and
receives, through the ``deliver`` callback, every message it must fan out locally. This keeps a
multi-process broker (Redis pub/sub through Litestar's channels plugin, say) a drop-in
replacement for :class:`InMemoryBroker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .models import RoomMessage

Deliver = Callable[[RoomMessage], None]
"""Callback that fans one numbered message out to this process's members of its room."""


class Broker(Protocol):
    """What the connection manager needs from a message bus.

    The manager calls :meth:`subscribe` when a room gets its first local member and
    :meth:`unsubscribe` when it loses its last one; :meth:`publish` may be called for any room.
    """

    async def start(self, deliver: Deliver) -> None:
        """Begin delivering numbered messages of subscribed rooms to ``deliver``."""
        ...

    async def stop(self) -> None:
        """Stop delivering; no ``deliver`` call happens after this returns."""
        ...

    async def subscribe(self, room: str) -> None:
        """Start delivering messages of ``room`` to this process."""
        ...

    async def unsubscribe(self, room: str) -> None:
        """Stop delivering messages of ``room``; the room's ``seq`` may restart at 1 later."""
        ...

    async def publish(self, room: str, text: str, sender: str) -> int:
        """Number a message of ``room`` and deliver it to every subscribed process.

        Returns:
            The message's ``seq``: 1 for the first message of a room, then one more per message.
        """
        ...


class InMemoryBroker:
    """A :class:`Broker` for one process: ``seq`` counters in a dict, delivery by a direct call.

    Delivery is synchronous, so messages of a room reach the manager in ``seq`` order. A room
    nobody subscribes to keeps no counter: each publish to it gets ``seq`` 1 and reaches no one.
    """

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._last_seq: dict[str, int] = {}

    async def start(self, deliver: Deliver) -> None:
        """Deliver messages of subscribed rooms to ``deliver`` from now on."""
        self._deliver = deliver

    async def stop(self) -> None:
        """Forget the callback and every room's counter."""
        self._deliver = None
        self._last_seq.clear()

    async def subscribe(self, room: str) -> None:
        """Keep a ``seq`` counter for ``room`` and deliver its messages."""
        self._last_seq.setdefault(room, 0)

    async def unsubscribe(self, room: str) -> None:
        """Forget ``room``'s counter; its next message starts again at ``seq`` 1."""
        self._last_seq.pop(room, None)

    async def publish(self, room: str, text: str, sender: str) -> int:
        """Number the message and, if ``room`` is subscribed, deliver it before returning.

        Returns:
            The message's ``seq``.
        """
        seq = self._last_seq.get(room, 0) + 1
        if room in self._last_seq:
            self._last_seq[room] = seq
            if self._deliver is not None:
                self._deliver(RoomMessage(room=room, text=text, sender=sender, seq=seq))
        return seq
