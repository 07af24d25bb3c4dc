"""Who may talk to the service at all: the ``Host`` allow-list and the handshake's ``Origin``.

Pattern code: template releases fix this module and ``copier update`` brings the fixes.

Both run before any handler: :class:`AllowedHostsWithPortMiddleware` for every request (DNS
rebinding), :func:`require_allowed_origin` as the guard of every WebSocket route (cross-site
WebSocket hijacking).
"""

from __future__ import annotations

import re
from typing import Any

from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.allowed_hosts import AllowedHostsMiddleware
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_400_BAD_REQUEST
from litestar.types import ASGIApp, Receive, Scope, Send

from .closes import CloseCode
from .settings import Settings, normalize_origin


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the first ``name`` header (lower-case ASCII bytes) of ``scope``, or ``None``.

    Reads the ASGI scope's raw header list (values decoded as latin-1, as RFC 9110 section 5.5
    allows): ``connection.headers`` would build a multidict of every header and cache it in the
    scope for the connection's lifetime, about 1.7 KiB per idle WebSocket.
    """
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class AllowedHostsWithPortMiddleware(AllowedHostsMiddleware):
    """Litestar's allowed-hosts middleware, matching the ``Host`` header with or without a port.

    Litestar 2.22+ matches the whole header, port included, so ``Host: 127.0.0.1:8000`` fails an
    allowed ``127.0.0.1`` (litestar issue 4869). Entries are host names as in
    :class:`~litestar.config.allowed_hosts.AllowedHostsConfig` (``*.example.com`` for
    subdomains, ``*`` for any); a request whose ``Host`` is not allowed gets HTTP 400 before any
    handler or guard runs. Refusing foreign names is what stops DNS rebinding: a page of
    ``evil.example`` whose name resolves to this service sends ``Host: evil.example``.
    """

    def __init__(self, app: ASGIApp, config: AllowedHostsConfig) -> None:
        super().__init__(app, config)
        if self.allowed_hosts_regex is None:
            return  # `*`: every host
        names = sorted(
            _SUBDOMAINS + re.escape(host.removeprefix("*")) if host.startswith("*.") else re.escape(host)
            for host in config.allowed_hosts
        )
        self.allowed_hosts_regex = re.compile("(?:" + "|".join(names) + r")(?::[0-9]{1,5})?", re.IGNORECASE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an allowed request on; answer another with HTTP 400, or refuse its handshake (HTTP 403).

        Litestar's own answer to a WebSocket is an ``http.response`` message, which no
        WebSocket server accepts; a close before accept is the ASGI way to refuse a handshake.
        """
        host = header(scope, b"host")
        if self.allowed_hosts_regex is None or (host is not None and self.allowed_hosts_regex.fullmatch(host)):
            await self.app(scope, receive, send)
        elif scope["type"] == ScopeType.WEBSOCKET:
            await send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION, "reason": ""})
        else:
            await ASGIResponse(body=b'{"detail":"Host not allowed"}', status_code=HTTP_400_BAD_REQUEST)(
                scope, receive, send
            )


_SUBDOMAINS = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"


def allowed_hosts_middleware(settings: Settings) -> DefineMiddleware:
    """The app middleware that answers only the ``Host`` values of ``WS_ALLOWED_HOSTS``."""
    config = AllowedHostsConfig(allowed_hosts=sorted(settings.allowed_hosts), www_redirect=False)
    return DefineMiddleware(AllowedHostsWithPortMiddleware, config=config)


def _own_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    host = header(connection.scope, b"host")
    if host is None:
        return None
    return normalize_origin(f"{connection.scope['scheme']}://{host}")


async def require_allowed_origin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: refuse a handshake from a browser page of another origin, before it is accepted.

    Allowed: no ``Origin`` header (clients that are not browsers), the service's own origin
    (scheme, host and port of the request, RFC 6454; the ``Host`` has passed
    ``WS_ALLOWED_HOSTS`` by then, see :class:`AllowedHostsWithPortMiddleware`), and
    ``WS_ALLOWED_ORIGINS``. Browsers do not apply CORS to WebSockets and Litestar's CORS
    middleware covers HTTP only, so without this check any page could open a socket with the
    user's cookies (cross-site WebSocket hijacking). A coroutine function because Litestar runs
    a plain function guard in a worker thread, a thread hop on every handshake.

    Raises:
        PermissionDeniedException: the handshake is answered with HTTP 403.
    """
    origin = header(connection.scope, b"origin")
    if origin is None:
        return
    settings: Settings = connection.app.state.settings
    normalized = normalize_origin(origin)
    if normalized is not None and (normalized == _own_origin(connection) or normalized in settings.allowed_origins):
        return
    raise PermissionDeniedException(detail="Origin not allowed")
