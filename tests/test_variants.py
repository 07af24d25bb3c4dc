"""Tier 2: the pairwise covering set of answer sets, each run as its own CI runs it.

:data:`~tests.matrix.COVERING` (every value of each answer beside every value of every other:
every style x mode pair, every option on every style) with the default package name: ``ruff
check``, ``ruff format --check``, ``mypy --strict`` and the project's whole suite, from the
project's folder (the suite in a copy: it writes into the folder). Tier 1 has already checked
every render's layout, lint, types and a smoke exchange; this tier runs what only the generated
suites check (real servers, bursts, hostile peers, Redis outages, ...).

A test that needs a generated suite per style (the generated README's recipe, for one) takes
its renders from :data:`~tests.matrix.COVERING` too: ``in_covering(interface_style=...)``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .matrix import COVERING, Variant
from .renders import run, run_own_suite, working_copy
from .typecheck import Typecheck

pytestmark = [pytest.mark.tier2, pytest.mark.variants(COVERING)]

COVERAGE_GATE = next(variant for variant in COVERING if not variant.duplex)
"""The variant whose own suite runs with ``--cov``, as its CI runs it, so that ``fail_under`` in the
generated pyproject (93) is shown to hold (94-96% for the duplex styles, 95% for stream, with
the quick profile). One only: coverage makes a suite much slower, and its timing-sensitive
server tests flakier on a loaded machine."""


def test_ruff_check(project: Path) -> None:
    run(project, sys.executable, "-m", "ruff", "check", "--no-cache", ".")


def test_ruff_format(project: Path) -> None:
    run(project, sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".")


@pytest.mark.xdist_group("tier2-typecheck")
def test_mypy_strict(typecheck: Callable[[str], Typecheck], variant: Variant, project: Path) -> None:
    report = typecheck(f"tier2-{variant.package_name}").check(project)
    assert report is None, report


def test_own_suite_passes(variant: Variant, project: Path, tmp_path: Path) -> None:
    """The whole suite, without a skip; for :data:`COVERAGE_GATE` with ``--cov`` and its gate."""
    gated = variant == COVERAGE_GATE
    result = run_own_suite(working_copy(project, tmp_path), *(["--cov"] if gated else []))
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s( \([\d:]+\))?", summary), result.stdout
    if gated:
        assert re.search(r"Required test coverage of [\d.]+% reached", result.stdout), result.stdout
