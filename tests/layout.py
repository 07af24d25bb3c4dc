"""What a render holds, and which files each answer rewrites: the one place that names generated files.

Paths are relative to the project, with ``{package}`` for the package name (see :func:`paths`).
tests/test_renders.py checks every render's file list against :func:`expected_files`;
tests/test_side_by_side.py checks renders that differ in one answer against the sets below.
"""

from __future__ import annotations

from collections.abc import Iterable

from .matrix import Variant

SRC = "src/{package}"

COMMON = {
    ".copier-answers.yml",
    ".dockerignore",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "Dockerfile",
    "README.md",
    "compose.yaml",
    "docs/contract.md",
    "docs/deploy.md",
    "docs/layout.md",
    "docs/settings.md",
    "pyproject.toml",
    f"{SRC}/__init__.py",
    f"{SRC}/__main__.py",
    f"{SRC}/app.py",
    f"{SRC}/asyncapi/__init__.py",
    f"{SRC}/asyncapi/__main__.py",
    f"{SRC}/broker.py",
    f"{SRC}/closes.py",
    f"{SRC}/codec.py",
    f"{SRC}/connection.py",
    f"{SRC}/errors.py",
    f"{SRC}/exposition.py",
    f"{SRC}/guards.py",
    f"{SRC}/handlers.py",
    f"{SRC}/history.py",
    f"{SRC}/logs.py",
    f"{SRC}/manager.py",
    f"{SRC}/message_types.py",
    f"{SRC}/metric_types.py",
    f"{SRC}/metrics.py",
    f"{SRC}/models.py",
    f"{SRC}/outbox.py",
    f"{SRC}/postlimit.py",
    f"{SRC}/protocol.py",
    f"{SRC}/room.py",
    f"{SRC}/py.typed",
    f"{SRC}/router.py",
    f"{SRC}/server.py",
    f"{SRC}/settings.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/contract.py",
    "tests/helpers.py",
    "tests/live.py",
    "tests/loadtest.py",
    "tests/process.py",
    "tests/test_asyncapi.py",
    "tests/test_broker.py",
    "tests/test_closes.py",
    "tests/test_codec.py",
    "tests/test_connection.py",
    "tests/test_errors.py",
    "tests/test_exposition.py",
    "tests/test_fuzz.py",
    "tests/test_guards.py",
    "tests/test_handlers.py",
    "tests/test_history.py",
    "tests/test_logs.py",
    "tests/test_main.py",
    "tests/test_manager.py",
    "tests/test_message_types.py",
    "tests/test_metric_types.py",
    "tests/test_outbox.py",
    "tests/test_protocol.py",
    "tests/test_resume.py",
    "tests/test_room.py",
    "tests/test_router.py",
    "tests/test_server.py",
    "tests/test_service.py",
    "tests/test_settings.py",
}
"""Files of every render: the package cut one concept per module (docs/layout.md)."""

ONLY_DUPLEX = {
    f"{SRC}/dispatch.py",
    f"{SRC}/presence.py",
    f"{SRC}/ratelimit.py",
    "tests/test_dispatch.py",
    "tests/test_presence.py",
    "tests/test_ratelimit.py",
}
"""Files of every style but ``stream``."""
ONLY_TOKEN_AUTH = {"docs/auth.md", f"{SRC}/auth.py", "tests/test_auth.py"}
ONLY_REDIS = {"docs/redis.md", f"{SRC}/redis_broker.py", "tests/redis_server.py", "tests/test_redis_broker.py"}
ONLY_DUPLEX_REDIS = {f"{SRC}/redis_presence.py"}
"""Presence kept in Redis: the duplex styles' members on every process (stream subscribers are counted
in ``/health`` only)."""
ONLY_DEMO_PAGE = {
    f"{SRC}/page.py",
    f"{SRC}/static/credentials.js",
    f"{SRC}/static/index.html",
    f"{SRC}/static/page.js",
    f"{SRC}/static/socket.js",
    f"{SRC}/static/style.css",
    "tests/test_page.py",
}
"""Files of the demo page (``demo_page``, default yes): its route, its static files and its tests."""

ALWAYS_DIFFERENT = {".copier-answers.yml", "README.md"}
"""Files two renders with different answers never share: the answers, and the README that states them."""

LAYOUT_DOC = "docs/layout.md"
"""The generated module table and design notes: they name the style's endpoint, the auth and broker
modules and the demo page, so every answer but ``transport_mode`` rewrites it."""
CONTRACT_DOC = "docs/contract.md"
"""The whole wire contract: every answer but a switch between duplex styles rewrites it (the frame
kind, the messages, the auth close, the broker's guarantees)."""
VARIANT_DOCS = {CONTRACT_DOC, "docs/deploy.md", LAYOUT_DOC, "docs/settings.md"}
"""The generated docs that ``auth``, ``broker`` and a switch to or from ``stream`` rewrite: the
contract, the settings table, the metrics and the load test, the module table."""

TRANSPORT_MODE_REWRITES = ALWAYS_DIFFERENT | {CONTRACT_DOC, f"{SRC}/codec.py", f"{SRC}/static/page.js"}
"""What ``transport_mode`` rewrites in a duplex render with the demo page: everything the frame kind
decides (payload type, byte counting, frame rules) is in codec.py; the page sends that kind; the
contract names the kind."""

WRITER_TASK_STYLE_REWRITES = ALWAYS_DIFFERENT | {LAYOUT_DOC, f"{SRC}/router.py"}
"""What switching between ``low_level`` and another style with a writer task (``listener``,
``class_based``) rewrites (and the design note on the listener's ``data``)."""

COMBINED_STYLE_REWRITES = ALWAYS_DIFFERENT | {
    LAYOUT_DOC,
    f"{SRC}/connection.py",
    f"{SRC}/outbox.py",
    f"{SRC}/router.py",
    "tests/helpers.py",
    "tests/test_outbox.py",
}
"""What switching between ``low_level`` and ``combined`` rewrites: its endpoint streams the outbox
(``send_websocket_stream``) instead of starting a writer task."""

STREAM_STYLE_REWRITES = ALWAYS_DIFFERENT | {
    *VARIANT_DOCS,
    f"{SRC}/app.py",
    f"{SRC}/asyncapi/__init__.py",
    f"{SRC}/broker.py",
    f"{SRC}/closes.py",
    f"{SRC}/codec.py",
    f"{SRC}/connection.py",
    f"{SRC}/dispatch.py",
    f"{SRC}/exposition.py",
    f"{SRC}/handlers.py",
    f"{SRC}/manager.py",
    f"{SRC}/message_types.py",
    f"{SRC}/metrics.py",
    f"{SRC}/models.py",
    f"{SRC}/outbox.py",
    f"{SRC}/presence.py",
    f"{SRC}/protocol.py",
    f"{SRC}/ratelimit.py",
    f"{SRC}/room.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    f"{SRC}/static/index.html",
    f"{SRC}/static/page.js",
    "tests/contract.py",
    "tests/helpers.py",
    "tests/live.py",
    "tests/loadtest.py",
    "tests/test_asyncapi.py",
    "tests/test_broker.py",
    "tests/test_codec.py",
    "tests/test_dispatch.py",
    "tests/test_fuzz.py",
    "tests/test_handlers.py",
    "tests/test_logs.py",
    "tests/test_manager.py",
    "tests/test_message_types.py",
    "tests/test_outbox.py",
    "tests/test_presence.py",
    "tests/test_ratelimit.py",
    "tests/test_resume.py",
    "tests/test_router.py",
    "tests/test_server.py",
    "tests/test_service.py",
}
"""What switching between ``low_level`` and ``stream`` rewrites (or adds, or deletes)."""

TOKEN_AUTH_REWRITES = ALWAYS_DIFFERENT | {
    *VARIANT_DOCS,
    "docs/auth.md",
    f"{SRC}/auth.py",
    f"{SRC}/app.py",
    f"{SRC}/asyncapi/__init__.py",
    f"{SRC}/closes.py",
    f"{SRC}/postlimit.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    f"{SRC}/static/credentials.js",
    f"{SRC}/static/index.html",
    "tests/conftest.py",
    "tests/helpers.py",
    "tests/test_auth.py",
    "tests/test_page.py",
    "tests/test_service.py",
}
"""What ``auth=token`` adds or rewrites, in every style: auth.py holds the check, the 4401 close and
the subprotocol; the rest only wires it in (the app's WebSocket class and log redaction, the
router's HTTP guard, the settings, the table of closes and the AsyncAPI document, the page's
credentials and token field, the tests' fixtures). :data:`TOKEN_AUTH_REWRITES_DUPLEX` on top in the
duplex styles."""
TOKEN_AUTH_REWRITES_DUPLEX = {"tests/test_asyncapi.py", "tests/test_presence.py", "tests/test_router.py"}
"""The duplex styles' tests that check or use a client's identity (presence is by user id with token
auth)."""

REDIS_REWRITES = ALWAYS_DIFFERENT | {
    *VARIANT_DOCS,
    "docs/redis.md",
    ".github/workflows/ci.yml",
    "compose.yaml",
    "pyproject.toml",
    f"{SRC}/app.py",
    f"{SRC}/broker.py",
    f"{SRC}/closes.py",
    f"{SRC}/exposition.py",
    f"{SRC}/history.py",
    f"{SRC}/manager.py",
    f"{SRC}/metrics.py",
    f"{SRC}/redis_broker.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    "tests/conftest.py",
    "tests/helpers.py",
    "tests/redis_server.py",
    "tests/test_exposition.py",
    "tests/test_logs.py",
    "tests/test_redis_broker.py",
}
"""What ``broker=redis`` adds or rewrites, in every style; :data:`REDIS_REWRITES_DUPLEX` on top in
the duplex styles."""
REDIS_REWRITES_DUPLEX = {
    f"{SRC}/connection.py",
    f"{SRC}/dispatch.py",
    f"{SRC}/models.py",
    f"{SRC}/presence.py",
    f"{SRC}/redis_presence.py",
    "tests/test_asyncapi.py",
}
"""A duplex style answers an undeliverable frame with an ``unavailable`` error."""

PYTHON_VERSION_REWRITES = ALWAYS_DIFFERENT | {
    ".github/workflows/ci.yml",
    ".python-version",
    "Dockerfile",
    "pyproject.toml",
}
"""What ``python_version`` rewrites: metadata only (the CI matrix, the base image, requires-python,
ruff's target, mypy's ``python_version``)."""


def paths(names: Iterable[str], package: str) -> set[str]:
    """``names`` with ``{package}`` replaced by ``package``."""
    return {name.format(package=package) for name in names}


def expected_files(variant: Variant) -> set[str]:
    """The files a render of ``variant`` must hold: no more, no fewer."""
    names = set(COMMON)
    if variant.duplex:
        names |= ONLY_DUPLEX
    if variant.token_auth:
        names |= ONLY_TOKEN_AUTH
    if variant.redis:
        names |= ONLY_REDIS
    if variant.duplex and variant.redis:
        names |= ONLY_DUPLEX_REDIS
    if variant.demo_page:
        names |= ONLY_DEMO_PAGE
    return paths(names, variant.package_name)
