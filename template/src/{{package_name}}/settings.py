"""Service settings, read from ``WS_*`` environment variables (names from the wire contract)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str | None:
    """Reduce an origin to ``scheme://host[:port]``: lowercase, default port left out.

    ``ws``/``wss`` count as ``http``/``https``. The rule is the origin tuple of RFC 6454
    section 4 (scheme, host, port).

    Returns:
        The normalized origin, or ``None`` for anything that is not an http(s) or ws(s) origin
        (such as the literal ``null`` a sandboxed page sends).
    """
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class Settings(BaseSettings):
    """Settings of one service process; every field maps to a ``WS_<FIELD>`` variable.

    Raises:
        pydantic.ValidationError: at start-up, naming the variable, when a value is invalid.
    """

    model_config = SettingsConfigDict(env_prefix="WS_", frozen=True)

    max_message_bytes: int = Field(default=65536, ge=1)
    """Largest inbound frame payload, in bytes; a larger one is closed with 1009."""

    outbox_size: int = Field(default=256, ge=1)
    """Frames queued for one connection before it is a slow consumer (closed with 1013)."""

    close_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds a 1013 close may wait to reach a client that is not reading before it is dropped."""

    allowed_origins: Annotated[frozenset[str], NoDecode] = frozenset()
    """Origins allowed to open a WebSocket besides the service's own (comma-separated)."""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = set()
        for item in filter(None, (part.strip() for part in value.split(","))):
            origin = normalize_origin(item)
            if origin is None:
                raise ValueError(f"{item!r} is not an origin such as https://example.com")
            origins.add(origin)
        return frozenset(origins)
