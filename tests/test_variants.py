"""Render every variant (interface_style x transport_mode x auth x broker) and run its own toolchain on it.

Each variant is rendered once per xdist worker (tests of one variant share an xdist group),
then checked from the variant's own folder, as a user would run the tools: layout, no Jinja
leftovers, ``ruff check``, ``ruff format --check``, ``mypy --strict`` and its own test suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import VARIANTS, Render, service_env

PACKAGE = "rooms_service"

LAYOUT = {
    ".copier-answers.yml",
    ".dockerignore",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "Dockerfile",
    "README.md",
    "compose.yaml",
    "pyproject.toml",
    f"src/{PACKAGE}/__init__.py",
    f"src/{PACKAGE}/__main__.py",
    f"src/{PACKAGE}/app.py",
    f"src/{PACKAGE}/asyncapi/__init__.py",
    f"src/{PACKAGE}/asyncapi/__main__.py",
    f"src/{PACKAGE}/broker.py",
    f"src/{PACKAGE}/closes.py",
    f"src/{PACKAGE}/codec.py",
    f"src/{PACKAGE}/connection.py",
    f"src/{PACKAGE}/errors.py",
    f"src/{PACKAGE}/exposition.py",
    f"src/{PACKAGE}/guards.py",
    f"src/{PACKAGE}/handlers.py",
    f"src/{PACKAGE}/logs.py",
    f"src/{PACKAGE}/manager.py",
    f"src/{PACKAGE}/metric_types.py",
    f"src/{PACKAGE}/metrics.py",
    f"src/{PACKAGE}/models.py",
    f"src/{PACKAGE}/outbox.py",
    f"src/{PACKAGE}/page.py",
    f"src/{PACKAGE}/postlimit.py",
    f"src/{PACKAGE}/protocol.py",
    f"src/{PACKAGE}/py.typed",
    f"src/{PACKAGE}/router.py",
    f"src/{PACKAGE}/server.py",
    f"src/{PACKAGE}/settings.py",
    f"src/{PACKAGE}/static/credentials.js",
    f"src/{PACKAGE}/static/index.html",
    f"src/{PACKAGE}/static/page.js",
    f"src/{PACKAGE}/static/socket.js",
    f"src/{PACKAGE}/static/style.css",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/contract.py",
    "tests/helpers.py",
    "tests/live.py",
    "tests/loadtest.py",
    "tests/process.py",
    "tests/test_asyncapi.py",
    "tests/test_broker.py",
    "tests/test_closes.py",
    "tests/test_codec.py",
    "tests/test_connection.py",
    "tests/test_errors.py",
    "tests/test_exposition.py",
    "tests/test_fuzz.py",
    "tests/test_guards.py",
    "tests/test_handlers.py",
    "tests/test_logs.py",
    "tests/test_main.py",
    "tests/test_manager.py",
    "tests/test_metric_types.py",
    "tests/test_outbox.py",
    "tests/test_page.py",
    "tests/test_protocol.py",
    "tests/test_router.py",
    "tests/test_server.py",
    "tests/test_service.py",
    "tests/test_settings.py",
}

TOOL_CACHES = {".mypy_cache", ".ruff_cache", "__pycache__"}

JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")

GITHUB_EXPRESSION = re.compile(r"\$\{\{ [^{}]+ \}\}")
"""GitHub Actions' ``${{ expression }}``: meant to be there, in workflow files only."""

ONLY_DUPLEX = {
    f"src/{PACKAGE}/dispatch.py",
    f"src/{PACKAGE}/ratelimit.py",
    "tests/test_dispatch.py",
    "tests/test_ratelimit.py",
}
ONLY_TOKEN_AUTH = {f"src/{PACKAGE}/auth.py", "tests/test_auth.py"}
ONLY_REDIS = {f"src/{PACKAGE}/redis_broker.py", "tests/redis_server.py", "tests/test_redis_broker.py"}
ONLY_DEMO_PAGE = {path for path in LAYOUT if "/static/" in path} | {f"src/{PACKAGE}/page.py", "tests/test_page.py"}
"""Files of the demo page (``demo_page``, default yes): part of LAYOUT, absent when answered no."""

variant_params = [
    pytest.param(*answers, id="-".join(answers), marks=pytest.mark.xdist_group("-".join(answers)))
    for answers in VARIANTS
]


def layout(style: str, auth: str, broker: str) -> set[str]:
    """The files a variant must have: the common layout plus its answers' own modules."""
    return (
        LAYOUT
        | (ONLY_DUPLEX if style != "stream" else set())
        | (ONLY_TOKEN_AUTH if auth == "token" else set())
        | (ONLY_REDIS if broker == "redis" else set())
    )


def run(project: Path, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``project`` as the working directory; fail with its output."""
    result = subprocess.run(
        command, cwd=project, env=service_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed in {project}:\n{result.stdout}\n{result.stderr}"
    return result


def files_of(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and not any(part in TOOL_CACHES for part in path.parts)
    }


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_layout(rendered: Render, style: str, mode: str, auth: str, broker: str) -> None:
    assert files_of(rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)) == layout(
        style, auth, broker
    )


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_no_jinja_leftovers_or_blank_line_debris(
    rendered: Render, style: str, mode: str, auth: str, broker: str
) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    for name in sorted(files_of(project) - {".copier-answers.yml"}):
        text = (project / name).read_text()
        if name.startswith(".github/workflows/"):
            text = GITHUB_EXPRESSION.sub("", text)
        assert not JINJA_LEFTOVER.search(text), f"{name} has Jinja syntax left: {JINJA_LEFTOVER.search(text)}"
        assert "\n\n\n\n" not in text, f"{name} has three blank lines in a row"
        assert not text.startswith("\n"), f"{name} starts with a blank line"
        assert text.endswith("\n") or not text, f"{name} does not end with a newline"
        assert not text.endswith("\n\n"), f"{name} ends with a blank line"


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_ruff_check(rendered: Render, style: str, mode: str, auth: str, broker: str) -> None:
    run(
        rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker),
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--no-cache",
        ".",
    )


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_ruff_format(rendered: Render, style: str, mode: str, auth: str, broker: str) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    run(project, sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".")


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_mypy_strict(
    rendered: Render, style: str, mode: str, auth: str, broker: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    # One cache per worker: the dependencies are analysed once, each variant's own code every time.
    cache = tmp_path_factory.getbasetemp() / "mypy-cache"
    run(project, sys.executable, "-m", "mypy", "--cache-dir", str(cache))


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), variant_params)
def test_own_suite_passes(rendered: Render, style: str, mode: str, auth: str, broker: str) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    result = run_own_suite(project)
    assert re.search(r"\d+ passed", result.stdout), result.stdout
    assert " failed" not in result.stdout, result.stdout
    assert " skipped" not in result.stdout, result.stdout


def run_own_suite(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The variant's own suite, as its CI runs it but with the quick hypothesis profile."""
    # The quick profile keeps the matrix fast; a service's own CI runs the full one.
    return run(
        project,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--hypothesis-profile=quick",
        *options,
    )


COVERAGE_GATE_VARIANTS = [param for param in variant_params if param.id in {"stream-text-none-memory"}]
"""Variants whose own suite also runs with ``--cov``, as their CI runs it, so that ``fail_under``
in the generated pyproject (93) is shown to hold. Measured with the quick profile: 94-96% for the
duplex styles, 95% for stream. Only one, because coverage roughly doubles a suite's time and
makes its timing-sensitive server tests flaky on a loaded machine."""


@pytest.mark.parametrize(("style", "mode", "auth", "broker"), COVERAGE_GATE_VARIANTS)
def test_own_suite_meets_the_coverage_gate(rendered: Render, style: str, mode: str, auth: str, broker: str) -> None:
    project = rendered(interface_style=style, transport_mode=mode, auth=auth, broker=broker)
    result = run_own_suite(project, "--cov")
    assert re.search(r"Required test coverage of [\d.]+% reached", result.stdout), result.stdout
