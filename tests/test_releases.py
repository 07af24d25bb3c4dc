"""Releases from files on main: the release rule, the tag script, and what Copier does with the tags.

A release is the commit on main that sets ``pyproject.toml``'s version and the newest
``CHANGELOG.md`` heading to ``X.Y.Z``; ``scripts/release_tags.py`` turns such commits into the
tags Copier needs, in any clone.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from types import ModuleType

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "release_tags.py"


def load_script() -> ModuleType:
    """``scripts/release_tags.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("release_tags", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


release_tags = load_script()


def test_pyproject_version_is_the_newest_changelog_release() -> None:
    """The rule on this working tree, and in the lock, where uv records the project's version too."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = release_tags.check_release_files(pyproject, (ROOT / "CHANGELOG.md").read_text())
    assert version == tomllib.loads(pyproject)["project"]["version"]
    locked = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    assert [package["version"] for package in locked if package["name"] == "copier-litestar-ws"] == [version], (
        "uv.lock records another version: run `uv lock` in the release commit"
    )


def test_the_check_runs_as_the_release_workflow_runs_it() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pyproject.toml and CHANGELOG.md agree" in result.stdout


CHANGELOG = "# Changelog\n\n## Unreleased\n\n- work\n\n## 0.1.1\n\n- fix\n\n## 0.1.0\n\n- first\n"


def pyproject(version: str) -> str:
    """A ``pyproject.toml`` text with ``version``."""
    return f'[project]\nname = "x"\nversion = "{version}"\n'


def test_the_rule_accepts_work_in_progress_above_the_newest_release() -> None:
    assert release_tags.check_release_files(pyproject("0.1.1"), CHANGELOG) == "0.1.1"
    assert release_tags.check_release_files(pyproject("0.1.1"), CHANGELOG.replace("## Unreleased\n\n- work\n\n", ""))


@pytest.mark.parametrize(
    ("version", "changelog", "message"),
    [
        pytest.param("0.1.0", CHANGELOG, "pyproject.toml says version 0.1.0, the newest release", id="drift"),
        pytest.param(
            "0.1.1",
            CHANGELOG.replace("## 0.1.0", "## Unreleased"),
            "'## Unreleased' may only be the first heading",
            id="unreleased-below",
        ),
        pytest.param(
            "0.1.1", CHANGELOG.replace("## 0.1.0", "## Next"), "heading '## Next' is not a release", id="not-a-version"
        ),
        pytest.param(
            "0.1.0",
            CHANGELOG.replace("## 0.1.1", "## 0.1.2").replace("## 0.1.0", "## 0.1.3").replace("## 0.1.2", "## 0.1.0"),
            "not newest first",
            id="order",
        ),
        pytest.param("0.1.1", "# Changelog\n\n## Unreleased\n", "no release heading", id="none-released"),
    ],
)
def test_the_rule_refuses_files_that_disagree(version: str, changelog: str, message: str) -> None:
    with pytest.raises(release_tags.ReleaseError, match=message):
        release_tags.check_release_files(pyproject(version), changelog)
