"""Two variants differ only where their answers imply: nothing else is touched by a choice."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from .conftest import Render
from .test_variants import LAYOUT, PACKAGE

SRC = f"src/{PACKAGE}"
ALWAYS = {".copier-answers.yml", "README.md"}


def differing(left: Path, right: Path) -> set[str]:
    return {name for name in LAYOUT if not filecmp.cmp(left / name, right / name, shallow=False)}


@pytest.mark.parametrize("style", ["low_level", "listener", "class_based", "combined"])
def test_transport_mode_changes_only_encoding_frame_rules_and_their_tests(rendered: Render, style: str) -> None:
    text = rendered(interface_style=style, transport_mode="text")
    binary = rendered(interface_style=style, transport_mode="binary")
    assert differing(text, binary) == ALWAYS | {
        f"{SRC}/models.py",
        f"{SRC}/protocol.py",
        "tests/helpers.py",
        "tests/test_handlers.py",
        "tests/test_models.py",
        "tests/test_router.py",
        "tests/test_server.py",
    }


@pytest.mark.parametrize("style", ["listener", "class_based", "combined"])
def test_duplex_styles_differ_from_low_level_only_in_the_router(rendered: Render, style: str) -> None:
    assert differing(rendered(interface_style="low_level"), rendered(interface_style=style)) == ALWAYS | {
        f"{SRC}/router.py"
    }


def test_stream_style_changes_the_endpoint_its_tests_and_the_frame_rules(rendered: Render) -> None:
    assert differing(rendered(interface_style="low_level"), rendered(interface_style="stream")) == ALWAYS | {
        f"{SRC}/__main__.py",
        f"{SRC}/protocol.py",
        f"{SRC}/router.py",
        "tests/test_router.py",
        "tests/test_server.py",
    }
