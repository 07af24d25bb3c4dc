"""Two variants differ only where their answers imply: nothing else is touched by a choice."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from .conftest import ROOT, Render
from .test_variants import PACKAGE

SRC = f"src/{PACKAGE}"
ALWAYS = {".copier-answers.yml", "README.md"}


def differing(left: Path, right: Path) -> set[str]:
    """Files present in only one of the two renders, or present in both with other content."""
    names = {path.relative_to(left).as_posix() for path in left.rglob("*") if path.is_file()}
    others = {path.relative_to(right).as_posix() for path in right.rglob("*") if path.is_file()}
    return (names ^ others) | {
        name for name in names & others if not filecmp.cmp(left / name, right / name, shallow=False)
    }


@pytest.mark.parametrize("style", ["low_level", "listener", "class_based", "combined"])
def test_transport_mode_changes_only_the_codec_and_the_page(rendered: Render, style: str) -> None:
    """Everything the frame kind decides (payload type, byte counting, frame rules) is in codec.py."""
    text = rendered(interface_style=style, transport_mode="text")
    binary = rendered(interface_style=style, transport_mode="binary")
    assert differing(text, binary) == ALWAYS | {f"{SRC}/codec.py", f"{SRC}/static/page.js"}


@pytest.mark.parametrize("style", ["listener", "class_based"])
def test_styles_with_a_writer_task_differ_from_low_level_only_in_the_router(rendered: Render, style: str) -> None:
    assert differing(rendered(interface_style="low_level"), rendered(interface_style=style)) == ALWAYS | {
        f"{SRC}/router.py"
    }


def test_the_combined_style_changes_the_router_and_what_sends_the_outbox(rendered: Render) -> None:
    """Its endpoint streams the outbox (send_websocket_stream) instead of starting a writer task."""
    assert differing(rendered(interface_style="low_level"), rendered(interface_style="combined")) == ALWAYS | {
        f"{SRC}/connection.py",
        f"{SRC}/outbox.py",
        f"{SRC}/router.py",
        "tests/helpers.py",
        "tests/test_outbox.py",
    }


def test_stream_style_changes_the_endpoint_its_logic_and_their_tests(rendered: Render) -> None:
    assert differing(rendered(interface_style="low_level"), rendered(interface_style="stream")) == ALWAYS | {
        f"{SRC}/app.py",
        f"{SRC}/asyncapi/__init__.py",
        f"{SRC}/closes.py",
        f"{SRC}/codec.py",
        f"{SRC}/connection.py",
        f"{SRC}/dispatch.py",
        f"{SRC}/handlers.py",
        f"{SRC}/manager.py",
        f"{SRC}/metrics.py",
        f"{SRC}/models.py",
        f"{SRC}/outbox.py",
        f"{SRC}/protocol.py",
        f"{SRC}/ratelimit.py",
        f"{SRC}/router.py",
        f"{SRC}/server.py",
        f"{SRC}/settings.py",
        f"{SRC}/static/index.html",
        f"{SRC}/static/page.js",
        "tests/helpers.py",
        "tests/live.py",
        "tests/loadtest.py",
        "tests/test_asyncapi.py",
        "tests/test_codec.py",
        "tests/test_dispatch.py",
        "tests/test_fuzz.py",
        "tests/test_handlers.py",
        "tests/test_logs.py",
        "tests/test_outbox.py",
        "tests/test_ratelimit.py",
        "tests/test_router.py",
        "tests/test_server.py",
        "tests/test_service.py",
    }


@pytest.mark.parametrize(
    ("style", "mode", "tests_of_identity"),
    [("listener", "text", {"tests/test_router.py"}), ("stream", "binary", set())],
)
def test_token_auth_adds_its_module_and_touches_only_the_wiring(
    rendered: Render, style: str, mode: str, tests_of_identity: set[str]
) -> None:
    """auth.py holds the check, the 4401 close and the subprotocol; the rest only wires it in.

    The wiring: the app (its WebSocket class, the log redaction), the router (the HTTP guard), the
    settings (tokens, secret), the table of closes and the AsyncAPI document (4401, the security
    schemes), the page's credentials and token field, and the tests' fixtures.
    """
    plain = rendered(interface_style=style, transport_mode=mode)
    with_auth = rendered(interface_style=style, transport_mode=mode, auth="token")
    assert differing(plain, with_auth) == ALWAYS | tests_of_identity | {
        f"{SRC}/auth.py",
        f"{SRC}/app.py",
        f"{SRC}/asyncapi/__init__.py",
        f"{SRC}/closes.py",
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


@pytest.mark.parametrize("style", ["combined", "stream"])
def test_redis_broker_adds_its_module_and_touches_only_delivery_health_and_settings(
    rendered: Render, style: str
) -> None:
    memory = rendered(interface_style=style)
    redis = rendered(interface_style=style, broker="redis")
    # A duplex style answers an undeliverable frame with an `unavailable` error.
    duplex_only = {f"{SRC}/dispatch.py", f"{SRC}/models.py", "tests/test_asyncapi.py"} if style != "stream" else set()
    assert differing(memory, redis) == ALWAYS | duplex_only | {
        ".github/workflows/ci.yml",
        "compose.yaml",
        "pyproject.toml",
        f"{SRC}/app.py",
        f"{SRC}/broker.py",
        f"{SRC}/closes.py",
        f"{SRC}/exposition.py",
        f"{SRC}/manager.py",
        f"{SRC}/metrics.py",
        f"{SRC}/redis_broker.py",
        f"{SRC}/router.py",
        f"{SRC}/settings.py",
        "tests/conftest.py",
        "tests/redis_server.py",
        "tests/test_exposition.py",
        "tests/test_logs.py",
        "tests/test_redis_broker.py",
    }


SWITCH_TARGETS = {
    "`interface_style` to `low_level` or `class_based`": [
        {"interface_style": style} for style in ("low_level", "class_based")
    ],
    "`interface_style` to `combined`": [{"interface_style": "combined"}],
    "`interface_style` to `stream`": [{"interface_style": "stream"}],
    "`transport_mode` to `binary`": [{"transport_mode": "binary"}],
    "`auth` to `token`": [{"auth": "token"}],
    "`broker` to `redis`": [{"broker": "redis"}],
}
"""The rows of docs/updating.md's table of answer switches, by their first cell."""


def documented_switches() -> dict[str, tuple[set[str], set[str], set[str]]]:
    """docs/updating.md's switch table: per row, the (adds, deletes, rewrites) paths in the project."""
    text = (ROOT / "docs" / "updating.md").read_text()
    table = text.split("<!-- switches: derived from real renders by tests/test_side_by_side.py -->\n", 1)[1]
    rows = {}
    for line in table.split("\n\n", 1)[0].splitlines()[2:]:
        label, *cells = (cell.strip() for cell in line.strip().strip("|").split("|"))

        def paths(cell: str) -> set[str]:
            names = re.findall(r"`([^`]+)`", cell)
            # Modules are written relative to the package; tests, static files and the rest in full.
            return {f"{SRC}/{name}" if name.endswith(".py") and "tests/" not in name else name for name in names}

        rows[label] = (paths(cells[0]), paths(cells[1]), paths(cells[2]))
    return rows


def test_the_docs_list_exactly_what_each_answer_switch_adds_deletes_and_rewrites(rendered: Render) -> None:
    """Derived from real renders: the default variant against each switched one."""
    documented = documented_switches()
    assert documented.keys() == SWITCH_TARGETS.keys()
    base = rendered()
    names = {path.relative_to(base).as_posix() for path in base.rglob("*") if path.is_file()}
    for label, targets in SWITCH_TARGETS.items():
        for answers in targets:
            other = rendered(**answers)
            others = {path.relative_to(other).as_posix() for path in other.rglob("*") if path.is_file()}
            changed = differing(base, other) - ALWAYS
            actual = (others - names, names - others, changed & names & others)
            assert actual == documented[label], f"{label} ({answers})"
