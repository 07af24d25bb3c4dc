"""The release script as a module, and a release commit on a throwaway history: shared by the release
tests (tests/test_releases.py) and the new user's flow (tests/test_docs.py).

A release is the commit on main that sets ``pyproject.toml``'s version and the newest
``CHANGELOG.md`` heading to ``X.Y.Z``; ``scripts/release_tags.py`` turns such commits into the
tags Copier needs, in any clone.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

from .gitrepo import commit_all
from .renders import ROOT

SCRIPT = ROOT / "scripts" / "release_tags.py"

NO_TAGS = "No git tags found in template; using HEAD as ref"
"""Copier 9.19's warning on copy and update from a template clone without release tags."""


def load_script() -> ModuleType:
    """``scripts/release_tags.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("release_tags", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


release_tags = load_script()


def release_commit(repo: Path, version: str) -> None:
    """What a release commit changes: pyproject.toml's version and the CHANGELOG's Unreleased heading."""
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    current = tomllib.loads(text)["project"]["version"]
    pyproject.write_text(text.replace(f'version = "{current}"', f'version = "{version}"', 1))
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## Unreleased\n", f"## Unreleased\n\n## {version}\n", 1))
    assert release_tags.check_release_files(pyproject.read_text(), changelog.read_text()) == version
    commit_all(repo, f"Release {version}")
