"""Two renders differ only where their answers imply: nothing else is touched by a choice.

Which files each answer rewrites is listed once, in tests/layout.py. These comparisons are what
lets tier 2 run full suites on a covering set only: the other answer sets' files are the same
bytes as in a render that ran its suite, or differ where one answer says.
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from . import layout
from .layout import paths
from .matrix import PYTHON_VERSIONS, Variant
from .renders import ROOT, Renders, render_snapshot

pytestmark = pytest.mark.tier1

PACKAGE = Variant().package_name
SRC = f"src/{PACKAGE}"


def differing(left: Path, right: Path) -> set[str]:
    """Files present in only one of the two renders, or present in both with other content."""
    names = {path.relative_to(left).as_posix() for path in left.rglob("*") if path.is_file()}
    others = {path.relative_to(right).as_posix() for path in right.rglob("*") if path.is_file()}
    return (names ^ others) | {
        name for name in names & others if not filecmp.cmp(left / name, right / name, shallow=False)
    }


def expected(names: set[str]) -> set[str]:
    return paths(names, PACKAGE)


@pytest.mark.parametrize("style", ["low_level", "listener", "class_based", "combined"])
def test_transport_mode_changes_only_the_codec_and_the_page(renders: Renders, style: str) -> None:
    """Everything the frame kind decides (payload type, byte counting, frame rules) is in codec.py."""
    text = renders(Variant(interface_style=style, transport_mode="text"))
    binary = renders(Variant(interface_style=style, transport_mode="binary"))
    assert differing(text, binary) == expected(layout.TRANSPORT_MODE_REWRITES)


@pytest.mark.parametrize("style", ["listener", "class_based"])
def test_styles_with_a_writer_task_differ_from_low_level_only_in_the_router(renders: Renders, style: str) -> None:
    low_level = renders(Variant(interface_style="low_level"))
    assert differing(low_level, renders(Variant(interface_style=style))) == expected(layout.WRITER_TASK_STYLE_REWRITES)


def test_the_combined_style_changes_the_router_and_what_sends_the_outbox(renders: Renders) -> None:
    """Its endpoint streams the outbox (send_websocket_stream) instead of starting a writer task."""
    low_level, combined = renders(Variant(interface_style="low_level")), renders(Variant(interface_style="combined"))
    assert differing(low_level, combined) == expected(layout.COMBINED_STYLE_REWRITES)


def test_stream_style_changes_the_endpoint_its_logic_and_their_tests(renders: Renders) -> None:
    low_level, stream = renders(Variant(interface_style="low_level")), renders(Variant(interface_style="stream"))
    assert differing(low_level, stream) == expected(layout.STREAM_STYLE_REWRITES)


@pytest.mark.parametrize(("style", "mode"), [("listener", "text"), ("stream", "binary")])
def test_token_auth_adds_its_module_and_touches_only_the_wiring(renders: Renders, style: str, mode: str) -> None:
    """auth.py holds the check, the 4401 close and the subprotocol; the rest only wires it in
    (tests/layout.py's TOKEN_AUTH_REWRITES says where)."""
    plain = Variant(interface_style=style, transport_mode=mode)
    rewrites = layout.TOKEN_AUTH_REWRITES | (layout.TOKEN_AUTH_REWRITES_DUPLEX if plain.duplex else set())
    assert differing(renders(plain), renders(plain.replace(auth="token"))) == expected(rewrites)


@pytest.mark.parametrize("style", ["combined", "stream"])
def test_redis_broker_adds_its_module_and_touches_only_delivery_health_and_settings(
    renders: Renders, style: str
) -> None:
    memory = Variant(interface_style=style)
    rewrites = layout.REDIS_REWRITES | (layout.REDIS_REWRITES_DUPLEX if memory.duplex else set())
    assert differing(renders(memory), renders(memory.replace(broker="redis"))) == expected(rewrites)


@pytest.mark.parametrize("python", PYTHON_VERSIONS[1:])
def test_python_version_changes_only_metadata(renders: Renders, tmp_path: Path, python: str) -> None:
    """Why the matrix renders every answer set with the default python_version only."""
    other = render_snapshot(tmp_path / "project", python_version=python)
    assert differing(renders(Variant()), other) == expected(layout.PYTHON_VERSION_REWRITES)


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


def test_the_docs_list_exactly_what_each_answer_switch_adds_deletes_and_rewrites(renders: Renders) -> None:
    """Derived from real renders: the default variant against each switched one."""
    documented = documented_switches()
    assert documented.keys() == SWITCH_TARGETS.keys()
    base = renders(Variant())
    names = {path.relative_to(base).as_posix() for path in base.rglob("*") if path.is_file()}
    for label, targets in SWITCH_TARGETS.items():
        for answers in targets:
            other = renders(Variant().replace(**answers))
            others = {path.relative_to(other).as_posix() for path in other.rglob("*") if path.is_file()}
            changed = differing(base, other) - layout.ALWAYS_DIFFERENT
            actual = (others - names, names - others, changed & names & others)
            assert actual == documented[label], f"{label} ({answers})"
