"""The generated projects' pins agree with the environment the matrix runs their suites in."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

from .matrix import Variant
from .renders import ROOT, Renders

pytestmark = pytest.mark.tier1


def test_every_generated_requirement_is_installed_here_at_an_allowed_version(renders: Renders) -> None:
    pyproject = tomllib.loads((renders(Variant(broker="redis")) / "pyproject.toml").read_text())
    requirements = [Requirement(spec) for spec in pyproject["project"]["dependencies"]]
    requirements += [Requirement(spec) for spec in pyproject["dependency-groups"]["dev"]]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    ours_by_name = {Requirement(spec).name: Requirement(spec) for spec in ours}
    for requirement in requirements:
        assert requirement.name in ours_by_name, f"{requirement.name} is missing from the template's dev group"
        assert ours_by_name[requirement.name].specifier == requirement.specifier, requirement.name
        assert requirement.specifier.contains(version(requirement.name)), requirement
