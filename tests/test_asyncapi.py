"""The AsyncAPI document: its validator catches what AsyncAPI 3.0 forbids; the docs show the default's.

Every render's document is validated in tier 1 (tests/test_renders.py, through tests/smoke.py);
here the document is written by the default variant's own CLI run as a module
(``python -m <package>.asyncapi FILE``, what ``uv run <package>-asyncapi FILE`` runs).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from .asyncapi_schema import errors
from .matrix import Variant
from .renders import ROOT, Renders, service_env

pytestmark = pytest.mark.tier1

PACKAGE = Variant().package_name


def written_document(project: Path, tmp_path: Path) -> dict[str, Any]:
    """The document the project's CLI writes."""
    target = tmp_path / "asyncapi.json"
    result = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.asyncapi", str(target)],
        cwd=project,
        env=service_env(PYTHONPATH=str(project / "src")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(target.read_text())
    return document


def test_the_validator_refuses_what_asyncapi_3_does_not_allow(renders: Renders, tmp_path: Path) -> None:
    document = written_document(renders(Variant()), tmp_path)
    assert errors(document) == []
    broken = copy.deepcopy(document)
    [operation, *_] = broken["operations"].values()
    operation["action"] = "publish"  # the AsyncAPI 2 verb
    assert errors(broken)
    broken = copy.deepcopy(document)
    [channel] = broken["channels"].values()
    channel["subscribe"] = {}  # an AsyncAPI 2 channel field
    assert errors(broken)


def test_the_docs_example_is_the_default_variants_document(renders: Renders, tmp_path: Path) -> None:
    """docs/asyncapi.json, linked from docs/demo-page.md, is what ``rooms_service-asyncapi`` writes."""
    assert json.loads((ROOT / "docs" / "asyncapi.json").read_text()) == written_document(renders(Variant()), tmp_path)


def test_the_readme_command_runs_the_cli_the_tests_run(renders: Renders) -> None:
    """``uv run <package>-asyncapi FILE`` in the generated README is the script ``written_document`` runs."""
    project = renders(Variant())
    scripts = tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[f"{PACKAGE}-asyncapi"] == f"{PACKAGE}.asyncapi.__main__:main"
    assert f"uv run {PACKAGE}-asyncapi asyncapi.json\n" in (project / "README.md").read_text()
