"""Rendering helpers shared by the template's tests."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import copier
import pytest

ROOT = Path(__file__).resolve().parent.parent
"""The template repository (the working tree, rendered at git HEAD plus uncommitted changes)."""

STYLES = ("low_level", "listener", "class_based", "stream", "combined")
MODES = ("text", "binary")
VARIANTS = (
    [(style, mode, "none", "memory") for style in STYLES for mode in MODES]
    + [(style, MODES[index % 2], "token", "memory") for index, style in enumerate(STYLES)]
    + [(style, MODES[(index + 1) % 2], ("none", "token")[index % 2], "redis") for index, style in enumerate(STYLES)]
)
"""(interface_style, transport_mode, auth, broker): every style x mode pair, then every style once
with auth=token and once with broker=redis (modes and auth alternating, as that code does not
depend on them)."""

Render = Callable[..., Path]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--style NAME``: run only the variant tests of that interface_style (CI runs one per job)."""
    parser.addoption(
        "--style",
        action="append",
        choices=STYLES,
        default=[],
        help="run only the tests of variants with this interface_style (repeatable); tests that "
        "take no style run as usual",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests parametrized with a ``style`` that ``--style`` did not choose."""
    chosen = config.getoption("style")
    if not chosen:
        return
    keep, drop = [], []
    for item in items:
        style = getattr(item, "callspec", None) and item.callspec.params.get("style")
        (drop if style and style not in chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def render(destination: Path, **answers: str) -> Path:
    """Render the template into ``destination`` with ``answers`` over the defaults; return it.

    Raises:
        ValueError: an answer is refused by its validator or is not one of its choices.
    """
    with warnings.catch_warnings():
        # Rendering a working tree with uncommitted changes is what these tests are for.
        warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
        copier.run_copy(
            str(ROOT),
            destination,
            data=answers,
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            # The copy task (hooks/git_init.py) is tested in tests/test_hooks.py; skipping it
            # keeps the matrix fast and shows the template renders without --trust.
            skip_tasks=True,
            unsafe=False,
        )
    return destination


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Render a variant once per test session (per xdist worker) and reuse it."""
    cache: dict[tuple[tuple[str, str], ...], Path] = {}

    def get(**answers: str) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            name = "-".join(value for _, value in key) or "defaults"
            cache[key] = render(tmp_path_factory.mktemp(name), **answers)
        return cache[key]

    return get


def service_env() -> dict[str, str]:
    """The environment for a generated project's tools: ours, minus any ``WS_*`` setting."""
    return {name: value for name, value in os.environ.items() if not name.startswith("WS_")}
