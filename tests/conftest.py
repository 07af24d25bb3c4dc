"""Fixtures and options of the template's tests; the shared code lives in modules beside it.

Every test carries one tier marker (``tier1``, ``tier2``, ``tier3``: see docs/developing.md).
A test that takes a ``variant`` argument is run once per answer set of its
``@pytest.mark.variants(...)`` marker: a list of :class:`~tests.matrix.Variant`, or ``"tier1"``
for every answer set with each name of ``--names``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import harness
from .matrix import STYLES, TIER1_NAMES, Variant, every_answer_set, typecheck_walks
from .renders import ROOT, Renders, service_env
from .smoke import Smoke
from .typecheck import Typecheck

TIERS = ("tier1", "tier2", "tier3")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--style",
        action="append",
        choices=STYLES,
        default=[],
        help="run only the tests of variants with this interface_style (repeatable); tests that "
        "take no variant run as usual",
    )
    parser.addoption(
        "--names",
        default=",".join(TIER1_NAMES),
        help="comma-separated package names tier 1 renders every answer set with: labels of "
        f"tests/matrix.py's TIER1_NAMES ({', '.join(TIER1_NAMES)}) or names (default: %(default)s)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "variants(answer_sets): run the test once per answer set")


def tier1_names(config: pytest.Config) -> list[str]:
    """The package names of ``--names``."""
    return [TIER1_NAMES.get(name, name) for name in config.getoption("names").split(",") if name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``variant`` from the test's ``variants`` marker.

    ``"tier1"``: every answer set with each name of ``--names``, one xdist group per name (a
    worker checks a name's renders, ruff once over them all). ``"tier1-typecheck"``: the walks of
    :func:`~tests.matrix.typecheck_walks`, one xdist group each, in order (the type checker's
    cache follows the walk).
    """
    if "variant" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("variants")
    assert marker, f"{metafunc.definition.nodeid} takes a variant but has no variants marker"
    (answer_sets,) = marker.args
    names = tier1_names(metafunc.config)
    if answer_sets == "tier1":
        params = [
            pytest.param(variant, id=variant.id, marks=pytest.mark.xdist_group(f"tier1-{name}"))
            for name in names
            for variant in every_answer_set(name)
        ]
    elif answer_sets == "tier1-typecheck":
        params = [
            pytest.param(variant, id=variant.id, marks=pytest.mark.xdist_group(f"tier1-typecheck-{index}"))
            for index, walk in enumerate(typecheck_walks(names))
            for variant in walk
        ]
    else:
        params = [pytest.param(variant, id=variant.id) for variant in answer_sets]
    metafunc.parametrize("variant", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the variants of the styles ``--style`` did not choose; check every test has one tier."""
    for item in items:
        tiers = [tier for tier in TIERS if item.get_closest_marker(tier)]
        assert len(tiers) == 1, f"{item.nodeid} has tier markers {tiers}: one of {TIERS} is required"
    chosen = config.getoption("style")
    if not chosen:
        return
    keep, drop = [], []
    for item in items:
        variant = getattr(item, "callspec", None) and item.callspec.params.get("variant")
        (drop if isinstance(variant, Variant) and variant.interface_style not in chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def renders() -> Renders:
    """Renders by answer set, from the cache shared by the session's workers, tiers and runs."""
    return Renders()


@pytest.fixture
def project(renders: Renders, variant: Variant) -> Path:
    """The render of the test's ``variant`` (shared: read it, or copy it to write)."""
    return renders(variant)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A loopback redis-server for the session (of this worker)."""
    with harness.redis_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def smoke() -> Iterator[Smoke]:
    """This worker's smoke-test process (tests/smoke.py)."""
    runner = Smoke(ROOT, service_env())
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def typecheck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Typecheck]]:
    """``typecheck(walk)``: this worker's type checker of a walk (its staging project and mypy cache)."""
    checkers: dict[str, Typecheck] = {}

    def get(walk: str) -> Typecheck:
        if walk not in checkers:
            checkers[walk] = Typecheck(walk, tmp_path_factory.mktemp(f"mypy-{walk}") / "project")
        return checkers[walk]

    yield get
    for checker in checkers.values():
        checker.close()
