"""The application factory: ``create_app()`` builds a fresh app, ``app`` is the one servers import."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from .broker import InMemoryBroker
from .manager import ConnectionManager
from .protocol import ServiceWebSocket
from .router import ROUTES
from .settings import Settings


def provide_manager(state: State) -> ConnectionManager:
    """Dependency ``manager``: the app's :class:`~.manager.ConnectionManager`."""
    manager: ConnectionManager = state.manager
    return manager


def provide_settings(state: State) -> Settings:
    """Dependency ``settings``: the app's :class:`~.settings.Settings`."""
    settings: Settings = state.settings
    return settings


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the service with its own connection manager and broker.

    Args:
        settings: Defaults to :class:`~.settings.Settings` read from the environment.

    Raises:
        pydantic.ValidationError: a ``WS_*`` environment variable has an invalid value.
    """
    settings = settings or Settings()
    manager = ConnectionManager(InMemoryBroker(), outbox_size=settings.outbox_size)
    return Litestar(
        route_handlers=ROUTES,
        dependencies={
            "manager": Provide(provide_manager, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        state=State({"manager": manager, "settings": settings}),
        websocket_class=ServiceWebSocket,
        on_startup=[manager.start],
        on_shutdown=[manager.stop],
    )


app = create_app()
