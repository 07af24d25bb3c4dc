"""Every variant's AsyncAPI document is valid AsyncAPI 3.0, by the official JSON Schema.

The schema comes from the npm package ``@asyncapi/specs`` (the AsyncAPI Initiative's own), in
a cache folder: ``.ci/run`` installs it there, and the first test run here does if it is missing.
The document is written by the variant's own CLI (``python -m <package>.asyncapi FILE``, what
``uv run <package>-asyncapi FILE`` runs).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from .conftest import ROOT, VARIANTS, Render, service_env
from .test_variants import PACKAGE

SPECS_VERSION = "6.11.1"
"""``@asyncapi/specs`` release whose ``schemas/3.0.0-without-$id.json`` is the reference."""

SPECS_DIR = Path(
    os.environ.get(
        "ASYNCAPI_SPECS_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "asyncapi-specs"
    )
)
"""npm prefix holding ``node_modules/@asyncapi/specs``; ``.ci/run`` sets and fills the same folder."""


def asyncapi_schema_file() -> Path:
    """The AsyncAPI 3.0.0 JSON Schema, installed with npm into ``SPECS_DIR`` on first use."""
    package = SPECS_DIR / "node_modules" / "@asyncapi" / "specs"
    installed = package / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != SPECS_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: it installs @asyncapi/specs (apt-get install npm; .ci/run does)")
        subprocess.run(
            [
                npm,
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(SPECS_DIR),
                f"@asyncapi/specs@{SPECS_VERSION}",
            ],
            check=True,
            timeout=300,
        )
    return package / "schemas" / "3.0.0-without-$id.json"


@pytest.fixture(scope="session")
def asyncapi_validator() -> Draft7Validator:
    schema = json.loads(asyncapi_schema_file().read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/schema")
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def written_document(project: Path, tmp_path: Path) -> dict[str, Any]:
    """The document the project's CLI writes."""
    target = tmp_path / "asyncapi.json"
    env = {**service_env(), "PYTHONPATH": str(project / "src")}
    result = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.asyncapi", str(target)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(target.read_text())
    return document


def errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


@pytest.mark.parametrize(
    ("style", "mode", "auth", "broker"),
    [
        pytest.param(*answers, id="-".join(answers), marks=pytest.mark.xdist_group("-".join(answers)))
        for answers in VARIANTS
    ],
)
def test_the_document_is_valid_asyncapi_3(
    rendered: Render,
    asyncapi_validator: Draft7Validator,
    tmp_path: Path,
    style: str,
    mode: str,
    auth: str,
    broker: str,
) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    document = written_document(project, tmp_path)
    assert errors(asyncapi_validator, document) == []
    assert document["asyncapi"] == "3.0.0"
    [channel] = document["channels"].values()
    assert channel["address"] == ("/ws/rooms/{room}" if style == "stream" else "/ws")
    assert channel["x-frame-kind"] == mode
    assert ("parameters" in channel) == (style == "stream")
    schemes = document["components"].get("securitySchemes", {})
    assert ({"tokenQuery", "bearer"} if auth == "token" else set()) == set(schemes)
    assert (4401 in map(int, channel["x-close-codes"])) == (auth == "token")
    for operation in document["operations"].values():
        for message in operation["messages"]:
            name = message["$ref"].rsplit("/", 1)[1]
            assert channel["messages"][name]["payload"]["$ref"].startswith("#/components/schemas/")


def test_the_validator_refuses_what_asyncapi_3_does_not_allow(
    rendered: Render, asyncapi_validator: Draft7Validator, tmp_path: Path
) -> None:
    document = written_document(rendered(), tmp_path)
    broken = copy.deepcopy(document)
    [operation, *_] = broken["operations"].values()
    operation["action"] = "publish"  # the AsyncAPI 2 verb
    assert errors(asyncapi_validator, broken)
    broken = copy.deepcopy(document)
    [channel] = broken["channels"].values()
    channel["subscribe"] = {}  # an AsyncAPI 2 channel field
    assert errors(asyncapi_validator, broken)


def test_the_docs_example_is_the_default_variants_document(rendered: Render, tmp_path: Path) -> None:
    """docs/asyncapi.json, linked from docs/demo-page.md, is what ``rooms_service-asyncapi`` writes."""
    assert json.loads((ROOT / "docs" / "asyncapi.json").read_text()) == written_document(rendered(), tmp_path)


def test_the_readme_command_runs_the_cli_the_tests_run(rendered: Render) -> None:
    """``uv run <package>-asyncapi FILE`` in the generated README is the script ``written_document`` runs."""
    project = rendered()
    scripts = tomllib.loads((project / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[f"{PACKAGE}-asyncapi"] == f"{PACKAGE}.asyncapi.__main__:main"
    assert f"uv run {PACKAGE}-asyncapi asyncapi.json\n" in (project / "README.md").read_text()
