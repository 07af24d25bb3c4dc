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
    "pyproject.toml",
    f"{SRC}/__init__.py",
    f"{SRC}/__main__.py",
    f"{SRC}/app.py",
    f"{SRC}/asyncapi.py",
    f"{SRC}/broker.py",
    f"{SRC}/codec.py",
    f"{SRC}/handlers.py",
    f"{SRC}/logs.py",
    f"{SRC}/manager.py",
    f"{SRC}/metrics.py",
    f"{SRC}/models.py",
    f"{SRC}/protocol.py",
    f"{SRC}/py.typed",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/contract.py",
    "tests/helpers.py",
    "tests/loadtest.py",
    "tests/test_asyncapi.py",
    "tests/test_broker.py",
    "tests/test_codec.py",
    "tests/test_fuzz.py",
    "tests/test_handlers.py",
    "tests/test_limits.py",
    "tests/test_logs.py",
    "tests/test_main.py",
    "tests/test_manager.py",
    "tests/test_metrics.py",
    "tests/test_router.py",
    "tests/test_server.py",
    "tests/test_settings.py",
}
"""Files of every render."""

ONLY_DUPLEX = {f"{SRC}/dispatch.py", f"{SRC}/ratelimit.py", "tests/test_dispatch.py", "tests/test_ratelimit.py"}
"""Files of every style but ``stream``."""
ONLY_TOKEN_AUTH = {f"{SRC}/auth.py", "tests/test_auth.py"}
ONLY_REDIS = {f"{SRC}/redis_broker.py", "tests/test_redis.py"}
ONLY_DEMO_PAGE = {
    f"{SRC}/static/index.html",
    f"{SRC}/static/page.js",
    f"{SRC}/static/socket.js",
    f"{SRC}/static/style.css",
    "tests/test_page.py",
}

ALWAYS_DIFFERENT = {".copier-answers.yml", "README.md"}
"""Files two renders with different answers never share: the answers, and the README that states them."""

TRANSPORT_MODE_REWRITES = ALWAYS_DIFFERENT | {
    f"{SRC}/codec.py",
    f"{SRC}/manager.py",  # payload_bytes(): a text frame's size is its UTF-8 encoding's
    f"{SRC}/protocol.py",
    f"{SRC}/static/page.js",
    "tests/helpers.py",
    "tests/loadtest.py",
    "tests/test_codec.py",
    "tests/test_dispatch.py",
    "tests/test_fuzz.py",
    "tests/test_limits.py",
    "tests/test_logs.py",
    "tests/test_router.py",
    "tests/test_server.py",
}
"""What ``transport_mode`` rewrites in a duplex render with the demo page."""

DUPLEX_STYLE_REWRITES = ALWAYS_DIFFERENT | {f"{SRC}/router.py"}
"""What switching between two duplex styles rewrites."""

STREAM_STYLE_REWRITES = ALWAYS_DIFFERENT | {
    f"{SRC}/__main__.py",
    f"{SRC}/app.py",
    f"{SRC}/asyncapi.py",
    f"{SRC}/dispatch.py",
    f"{SRC}/handlers.py",
    f"{SRC}/manager.py",
    f"{SRC}/protocol.py",
    f"{SRC}/ratelimit.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    f"{SRC}/static/index.html",
    f"{SRC}/static/page.js",
    "tests/helpers.py",
    "tests/loadtest.py",
    "tests/test_asyncapi.py",
    "tests/test_dispatch.py",
    "tests/test_fuzz.py",
    "tests/test_handlers.py",
    "tests/test_limits.py",
    "tests/test_logs.py",
    "tests/test_main.py",
    "tests/test_manager.py",
    "tests/test_metrics.py",
    "tests/test_ratelimit.py",
    "tests/test_router.py",
    "tests/test_server.py",
    "tests/test_settings.py",
}
"""What switching between ``low_level`` and ``stream`` rewrites (or adds, or deletes)."""

TOKEN_AUTH_REWRITES = ALWAYS_DIFFERENT | {
    f"{SRC}/app.py",  # installs the token redaction of the logs
    f"{SRC}/asyncapi.py",
    f"{SRC}/auth.py",
    f"{SRC}/protocol.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    f"{SRC}/static/index.html",
    f"{SRC}/static/page.js",
    "tests/conftest.py",
    "tests/helpers.py",
    "tests/test_auth.py",
    "tests/test_limits.py",  # scrapes the run command's log
    "tests/test_logs.py",
    "tests/test_page.py",
    "tests/test_server.py",
    "tests/test_settings.py",
}
"""What ``auth=token`` adds or rewrites, in every style; :data:`TOKEN_AUTH_REWRITES_DUPLEX` on top in
the duplex styles."""
TOKEN_AUTH_REWRITES_DUPLEX = {"tests/test_metrics.py", "tests/test_router.py"}
"""The duplex styles' tests that check or use a client's identity."""

REDIS_REWRITES = ALWAYS_DIFFERENT | {
    ".github/workflows/ci.yml",
    "compose.yaml",
    "pyproject.toml",
    f"{SRC}/app.py",
    f"{SRC}/broker.py",
    f"{SRC}/manager.py",
    f"{SRC}/metrics.py",
    f"{SRC}/redis_broker.py",
    f"{SRC}/router.py",
    f"{SRC}/settings.py",
    "tests/conftest.py",
    "tests/helpers.py",
    "tests/test_logs.py",
    "tests/test_metrics.py",
    "tests/test_redis.py",
    "tests/test_server.py",
}
"""What ``broker=redis`` adds or rewrites, in every style; :data:`REDIS_REWRITES_DUPLEX` on top in
the duplex styles."""
REDIS_REWRITES_DUPLEX = {f"{SRC}/dispatch.py"}

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
    if variant.demo_page:
        names |= ONLY_DEMO_PAGE
    return paths(names, variant.package_name)
