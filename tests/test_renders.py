"""Tier 1: every answer set, rendered with a short and a long package name, checked where it is cheap.

For each of the 80 answer sets (tests/matrix.py) and each name of ``--names``: the render holds
exactly its files (tests/layout.py) with no Jinja leftovers or blank-line debris; ``ruff check``
and ``ruff format --check`` pass as the project's own CI runs them; every module imports, the app
holds one exchange in Litestar's TestClient and the package's CLI writes a valid AsyncAPI 3.0
document (tests/smoke.py); ``mypy --strict`` passes (tests/typecheck.py).

Ruff runs once per package name over all of that name's renders (each file still under its own
project's settings): the per-render tests read their part of its report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .asyncapi_schema import errors
from .layout import expected_files
from .matrix import Variant
from .renders import Renders, copy_working_tree, files_of, service_env
from .smoke import Smoke
from .typecheck import Typecheck

pytestmark = [pytest.mark.tier1, pytest.mark.variants("tier1")]

JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")

GITHUB_EXPRESSION = re.compile(r"\$\{\{ [^{}]+ \}\}")
"""GitHub Actions' ``${{ expression }}``: meant to be there, in workflow files only."""


def test_layout(variant: Variant, project: Path) -> None:
    assert files_of(project) == expected_files(variant)


def test_no_jinja_leftovers_or_blank_line_debris(project: Path) -> None:
    for name in sorted(files_of(project) - {".copier-answers.yml"}):
        text = (project / name).read_text()
        if name.startswith(".github/workflows/"):
            text = GITHUB_EXPRESSION.sub("", text)
        assert not JINJA_LEFTOVER.search(text), f"{name} has Jinja syntax left: {JINJA_LEFTOVER.search(text)}"
        assert "\n\n\n\n" not in text, f"{name} has three blank lines in a row"
        assert not text.startswith("\n"), f"{name} starts with a blank line"
        assert text.endswith("\n") or not text, f"{name} does not end with a newline"
        assert not text.endswith("\n\n"), f"{name} ends with a blank line"


class RuffReports:
    """``ruff check`` and ``ruff format --check`` over every selected render of a package name, once."""

    def __init__(self, renders: Renders, selected: list[Variant]) -> None:
        self.renders, self.selected = renders, selected
        self.reports: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def findings(self, command: str, variant: Variant, project: Path) -> list[str]:
        """What ``ruff <command>`` reports in ``project``, one line per finding."""
        key = (command, variant.package_name)
        if key not in self.reports:
            projects = [self.renders(other) for other in self.selected if other.package_name == variant.package_name]
            self.reports[key] = ruff_json(command, projects)
        prefix = f"{project}/"
        return [
            f"{finding['filename'].removeprefix(prefix)}:{finding['location']['row']}: "
            f"{finding['code']} {finding['message'] or ''}".rstrip()
            for finding in self.reports[key]
            if finding["filename"].startswith(prefix)
        ]


def ruff_json(command: str, projects: list[Path]) -> list[dict[str, Any]]:
    """ruff's JSON report of ``command`` (``check`` or ``format``) over ``projects``.

    Each file is checked under the settings of the pyproject.toml nearest to it, its project's,
    as when ruff runs from the project's folder.
    """
    arguments = ["check"] if command == "check" else ["format", "--check"]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--no-cache", "--output-format", "json", *map(str, projects)],
        capture_output=True,
        text=True,
        env=service_env(),
        check=False,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return findings


@pytest.fixture(scope="session")
def ruff(renders: Renders, request: pytest.FixtureRequest) -> RuffReports:
    selected = [item.callspec.params["variant"] for item in request.session.items if is_tier1_render_test(item)]
    return RuffReports(renders, list(dict.fromkeys(selected)))


def is_tier1_render_test(item: pytest.Item) -> bool:
    return item.module is not None and item.module.__name__ == __name__ and hasattr(item, "callspec")


def test_ruff_check(ruff: RuffReports, variant: Variant, project: Path) -> None:
    assert ruff.findings("check", variant, project) == []


def test_ruff_format(ruff: RuffReports, variant: Variant, project: Path) -> None:
    """``ruff format --check``: on failure, ``ruff format --diff`` in the project shows the change."""
    assert ruff.findings("format", variant, project) == []


def test_imports_holds_an_exchange_and_writes_a_valid_asyncapi_document(
    smoke: Smoke, request: pytest.FixtureRequest, variant: Variant, project: Path
) -> None:
    env = {"WS_AUTH_TOKENS": "smoke-token"} if variant.token_auth else {}
    if variant.redis:
        env["WS_REDIS_URL"] = request.getfixturevalue("redis_url")
    document = smoke.check(
        project, variant.package_name, duplex=variant.duplex, transport_mode=variant.transport_mode, env=env
    )
    assert errors(document) == []
    assert document["asyncapi"] == "3.0.0"
    [channel] = document["channels"].values()
    assert channel["address"] == ("/ws" if variant.duplex else "/ws/rooms/{room}")
    assert channel["x-frame-kind"] == variant.transport_mode
    assert ("parameters" in channel) == (not variant.duplex)
    schemes = document["components"].get("securitySchemes", {})
    assert ({"tokenQuery", "bearer"} if variant.token_auth else set()) == set(schemes)
    assert (4401 in map(int, channel["x-close-codes"])) == variant.token_auth
    for operation in document["operations"].values():
        for message in operation["messages"]:
            name = message["$ref"].rsplit("/", 1)[1]
            assert channel["messages"][name]["payload"]["$ref"].startswith("#/components/schemas/")


@pytest.mark.variants("tier1-typecheck")
def test_mypy_strict(
    typecheck: Callable[[str], Typecheck], request: pytest.FixtureRequest, variant: Variant, project: Path
) -> None:
    """Every answer set once, under one of the names, in walks along the Gray-code order (tests/matrix.py)."""
    walk = next(mark.args[0] for mark in request.node.iter_markers("xdist_group"))
    report = typecheck(f"{walk}-{variant.package_name}").check(project)
    assert report is None, report


@pytest.mark.variants([Variant(), Variant(interface_style="stream", auth="token", broker="redis", demo_page=False)])
def test_renders_are_what_copier_copy_renders_from_git(variant: Variant, project: Path, tmp_path: Path) -> None:
    """The cached renders (a snapshot of the template folder, one Jinja environment for all) hold the
    bytes ``copier copy --vcs-ref HEAD`` renders, but for the answers file's ``_commit`` and ``_src_path``."""
    copied = copy_working_tree(tmp_path / "copied", data=variant.answers, skip_tasks=True, unsafe=False)
    assert files_of(copied) == files_of(project)
    for name in sorted(files_of(project)):
        ours, theirs = (project / name).read_text(), (copied / name).read_text()
        if name == ".copier-answers.yml":
            ours, theirs = (
                "".join(line for line in text.splitlines(True) if not line.startswith(("_commit:", "_src_path:")))
                for text in (ours, theirs)
            )
        assert ours == theirs, name
