"""What the service does with failures: the WebSocket error close, the request body, the error log.

Pattern code: template releases fix this module and ``copier update`` brings the fixes.

Litestar's defaults leak internals (a 4500 close with the exception's text as reason) or answer a
client's mistake as a server fault (500 for a body nested too deeply); here a server fault is a
1011 close with a generic reason or an HTTP 500, logged once with its traceback, and a client
that leaves is never an error.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException, HTTPException, WebSocketDisconnect
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .closes import INTERNAL_ERROR_REASON, CloseCode

logger = logging.getLogger(__name__)

APP_SEND_KEY = "service.send"
"""Scope key under which :class:`ErrorCloseMiddleware` leaves the ASGI ``send`` it was given."""

_LITESTAR_ERROR_CODES = frozenset(range(4000, 5000))


class ErrorCloseMiddleware:
    """Turn Litestar's error closes into 1011 with a generic reason, and count them.

    Litestar closes a socket whose handler raised with 4500 (or ``4000 + status`` for an
    ``HTTPException``) and the exception's detail as reason, which can leak internals and, past
    123 bytes, makes uvicorn drop the connection without a close frame.

    It wraps the ``send`` of the route's exception handler only, the one that sends those
    closes. ``protocol.ServiceWebSocket`` takes the ``send`` this middleware was given (left in
    the scope under :data:`APP_SEND_KEY`) and counts its own closes, so frames, and the
    application close codes the service sends on purpose, pass through no hook here: an
    app-level ``before_send`` hook would run for every frame sent (litestar.dev, "Application
    hooks"). HTTP requests pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the route's ASGI ``app`` (Litestar's route-level exception handler and the route)."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``scope``; for a WebSocket, with a ``send`` that rewrites Litestar's error closes."""
        if scope["type"] != ScopeType.WEBSOCKET:
            await self.app(scope, receive, send)
            return
        scope[APP_SEND_KEY] = send  # type: ignore[literal-required]

        async def send_error_close(message: Message) -> None:
            if message["type"] == "websocket.close":
                if message.get("code", CloseCode.NORMAL_CLOSURE) in _LITESTAR_ERROR_CODES:
                    message["code"] = CloseCode.INTERNAL_ERROR
                    message["reason"] = INTERNAL_ERROR_REASON
                metrics.closed(message.get("code", CloseCode.NORMAL_CLOSURE))
            await send(message)

        await self.app(scope, receive, send_error_close)


class ServiceRequest(Request[Any, Any, Any]):
    """Litestar's ``Request`` whose JSON body answers 400, never 500, when it nests too deeply.

    msgspec raises ``RecursionError`` for a document nested about 1,000 levels deep, which
    Litestar would answer with 500; the wire contract makes every invalid body a 400.
    """

    async def json(self) -> Any:
        """The body decoded as JSON (cached).

        Raises:
            ClientException: answered with 400 and a JSON body, for a body nested too deeply.
        """
        try:
            return await super().json()
        except RecursionError as exc:
            raise ClientException(detail="The body's JSON is nested too deeply.") from exc


_ANSWERS_OR_CLIENT_LEFT = (HTTPException, WebSocketDisconnect, OSError)


def log_unexpected_error(exception: Exception, scope: Scope) -> None:
    """``after_exception`` hook: log a server fault, with its traceback, at ERROR.

    Logged: whatever a WebSocket handler or an HTTP route raised that Litestar answers with 1011
    or HTTP 500. Not logged: ``HTTPException`` subclasses (a refused Origin, an invalid room, a
    bad body: answers, not failures) and a client that left, at any point: a
    ``WebSocketDisconnect``, or the ``OSError`` an ASGI server raises when the app sends to a
    closed connection (ASGI spec 2.4, "send" on a closed connection; uvicorn's
    ``ClientDisconnected``), alone or as every leaf of an exception group (a stream's task
    group). Anyone can disconnect at will, so those must not flood the log.
    """
    if isinstance(exception, _ANSWERS_OR_CLIENT_LEFT):
        return
    if isinstance(exception, BaseExceptionGroup) and exception.split(_ANSWERS_OR_CLIENT_LEFT)[1] is None:
        return
    if scope["type"] == ScopeType.WEBSOCKET:
        logger.error("WebSocket handler at %s failed", scope["path"], exc_info=exception)
    else:
        logger.error("%s %s failed with HTTP 500", scope.get("method", "HTTP"), scope["path"], exc_info=exception)
