"""Tier 2: the pairwise covering set of answer sets, each run as its own CI runs it.

:data:`~tests.matrix.COVERING` (every value of each answer beside every value of every other:
every style x mode pair, every option on every style) with the default package name: ``ruff
check``, ``ruff format --check``, ``mypy --strict`` and the project's whole suite, from the
project's folder (the suite in a copy: it writes into the folder). Tier 1 has already checked
every render's layout, lint, types and a smoke exchange; this tier runs what only the generated
suites check (real servers, bursts, hostile peers, Redis outages, ...).

One covering render of each style first follows the generated README's "Add a message type"
recipe (tests/recipe.py), and the recipe's own commands then run its suite, ruff and mypy: the
recipe is proven on every style without running five more suites.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from . import recipe
from .matrix import COVERING, STYLES, Variant
from .renders import run, run_own_suite, service_env, working_copy
from .typecheck import Typecheck

pytestmark = [pytest.mark.tier2, pytest.mark.variants(COVERING)]

RECIPE_FOLLOWERS = [next(variant for variant in COVERING if variant.interface_style == style) for style in STYLES]
"""The first covering render of each style: it follows the README's recipe before its suite runs."""

SUITE_ONLY = [variant for variant in COVERING if variant not in RECIPE_FOLLOWERS]

COVERAGE_GATES = (
    next(variant for variant in SUITE_ONLY if not variant.redis),
    next(variant for variant in SUITE_ONLY if variant.redis),
)
"""The variants whose own suites run with ``--cov``, as their CI runs it, so that ``fail_under`` in
the generated pyproject is shown to hold: 93 for a memory render, 90 for a Redis one (whose
outage branches the suite cannot always steer; 91.6% for stream with Redis, with the quick
profile). Two only: coverage makes a suite much slower, and its timing-sensitive server tests
flakier on a loaded machine."""

SUMMARY = re.compile(r"^(=+ )?\d+ passed in [\d.]+s( \([\d:]+\))?( =+)?$", re.MULTILINE)
"""pytest's last line when every test passed and none was skipped (framed by ``=`` without ``-q``)."""


def test_ruff_check(project: Path) -> None:
    run(project, sys.executable, "-m", "ruff", "check", "--no-cache", ".")


def test_ruff_format(project: Path) -> None:
    run(project, sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".")


@pytest.mark.xdist_group("tier2-typecheck")
def test_mypy_strict(typecheck: Callable[[str], Typecheck], variant: Variant, project: Path) -> None:
    report = typecheck(f"tier2-{variant.package_name}").check(project)
    assert report is None, report


@pytest.mark.variants(SUITE_ONLY)
def test_own_suite_passes(variant: Variant, project: Path, tmp_path: Path) -> None:
    """The whole suite, without a skip; for :data:`COVERAGE_GATES` with ``--cov`` and its gate."""
    gated = variant in COVERAGE_GATES
    result = run_own_suite(working_copy(project, tmp_path), *(["--cov"] if gated else []))
    assert SUMMARY.search(result.stdout.strip().splitlines()[-1]), result.stdout
    if gated:
        assert re.search(r"Required test coverage of [\d.]+% reached", result.stdout), result.stdout


def uv_shim(directory: Path) -> Path:
    """A ``uv`` whose ``uv run CMD`` runs CMD from this environment; returns its folder."""
    directory.mkdir()
    shim = directory / "uv"
    shim.write_text('#!/bin/sh\n[ "$1" = run ] || { echo "uv shim: only uv run" >&2; exit 2; }\nshift\nexec "$@"\n')
    shim.chmod(0o755)
    return directory


@pytest.mark.variants(RECIPE_FOLLOWERS)
def test_the_readme_recipe_keeps_the_suite_green_without_touching_pattern_files(
    variant: Variant, project: Path, tmp_path: Path
) -> None:
    """The recipe's code where its steps say, then its commands as written: suite, ruff, mypy green.

    ``uv run`` runs the tool from this repository's environment (which carries every dependency
    of the generated projects) instead of syncing one per render; pytest gets the quick
    hypothesis profile through ``PYTEST_ADDOPTS``, as :func:`~tests.renders.run_own_suite` does.
    """
    copy = working_copy(project, tmp_path)
    before = recipe.digests(copy)
    commands = recipe.follow(copy, variant.package_name, variant.duplex)
    env = service_env(PYTEST_ADDOPTS="-p no:cacheprovider -p no:xdist --hypothesis-profile=quick")
    env["PATH"] = os.pathsep.join([str(uv_shim(tmp_path / "shim")), str(Path(sys.executable).parent), env["PATH"]])
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)
    assert any(SUMMARY.search(output) for output in outputs), outputs[-1][-6000:]
    after = recipe.digests(copy)
    # Edited or removed files of the render, and new Python files (not the tools' caches and databases).
    changed = {path for path in before if before[path] != after.get(path)} | {
        path for path in after.keys() - before.keys() if path.endswith(".py")
    }
    assert changed == recipe.user_files(variant.package_name, variant.duplex)
