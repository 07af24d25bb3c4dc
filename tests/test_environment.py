"""The generated projects' pins agree with the environment the matrix runs their suites in."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement

from .conftest import ROOT, Render


def test_every_generated_requirement_is_installed_here_at_an_allowed_version(rendered: Render) -> None:
    pyproject = tomllib.loads((rendered(broker="redis") / "pyproject.toml").read_text())
    requirements = [Requirement(spec) for spec in pyproject["project"]["dependencies"]]
    requirements += [Requirement(spec) for spec in pyproject["dependency-groups"]["dev"]]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    ours_by_name = {Requirement(spec).name: Requirement(spec) for spec in ours}
    for requirement in requirements:
        assert requirement.name in ours_by_name, f"{requirement.name} is missing from the template's dev group"
        assert ours_by_name[requirement.name].specifier == requirement.specifier, requirement.name
        assert requirement.specifier.contains(version(requirement.name)), requirement
