"""The generated README's "Add a message type" recipe, followed literally on every interface style.

Each code block of the recipe goes where its sentence says (above a line, in place of a union
line, at the end of a file), into the user's files only; then the recipe's own shell commands run
as written. ``uv run`` runs the tool from this repository's environment (which carries every
dependency of the generated projects) instead of syncing one per render. The suite, ruff and mypy
must stay green, and no pattern-owned file may change.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .matrix import STYLES
from .renders import render_snapshot, service_env

pytestmark = pytest.mark.tier2

PACKAGE = "team_chat"
"""Not the default name: the recipe must hold whatever the package is called."""

USER_FILES = {
    f"src/{PACKAGE}/models.py",
    f"src/{PACKAGE}/handlers.py",
    f"src/{PACKAGE}/router.py",
    "tests/test_handlers.py",
}
"""The files the recipe may edit: the user's own, and router.py (shared) for the stream's route."""

BLOCK = re.compile(r"^   ```(?P<lang>python|sh)\n(?P<code>.*?)^   ```$", re.DOTALL | re.MULTILINE)


def recipe(readme: str) -> list[tuple[str, str]]:
    """The (language, code) blocks of the README's "Add a message type" section, in order, unindented."""
    section = readme.split("\n## Add a message type\n", 1)[1].split("\n## ", 1)[0]
    return [
        (match["lang"], "".join(line.removeprefix("   ") for line in match["code"].splitlines(keepends=True)))
        for match in BLOCK.finditer(section)
    ]


def insert_above(path: Path, line_start: str, code: str) -> None:
    """Put ``code`` above the first line of ``path`` that starts with ``line_start``."""
    text = path.read_text()
    index = text.index("\n" + line_start) + 1
    path.write_text(text[:index] + code + "\n\n" + text[index:])


def replace_line(path: Path, line: str) -> None:
    """Replace the line of ``path`` that assigns the same name as ``line`` (``ClientMessage = ...``) by it."""
    target = line.split("=", 1)[0]
    lines = path.read_text().splitlines(keepends=True)
    [index] = [number for number, old in enumerate(lines) if old.startswith(target)]
    lines[index] = line
    path.write_text("".join(lines))


def add_import(path: Path, code: str) -> None:
    """Put import lines below ``from __future__ import annotations``; ruff --fix sorts them."""
    text = path.read_text()
    anchor = "from __future__ import annotations\n"
    path.write_text(text.replace(anchor, anchor + "\n" + code, 1))


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n\n\n" + code)


def digests(project: Path) -> dict[str, str]:
    """SHA-256 of every file of ``project`` but the tool caches, by path."""
    return {
        path.relative_to(project).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in project.rglob("*")
        if path.is_file() and not {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"} & set(path.parts)
    }


def apply_duplex(project: Path, blocks: list[tuple[str, str]]) -> list[str]:
    """Steps 1-3 of the duplex recipe; returns its shell block's lines."""
    assert [lang for lang, _ in blocks] == ["python"] * 6 + ["sh"], blocks
    models, unions, handler_imports, cases, test_imports, tests, shell = (code for _, code in blocks)
    package = project / "src" / PACKAGE
    insert_above(package / "models.py", "ClientMessage = ", models)
    for line in unions.splitlines(keepends=True):
        replace_line(package / "models.py", line)
    add_import(package / "handlers.py", handler_imports)
    insert_above(package / "handlers.py", "        case _:", cases.rstrip("\n"))
    add_import(project / "tests" / "test_handlers.py", test_imports)
    append(project / "tests" / "test_handlers.py", tests)
    return shell.splitlines()


def apply_stream(project: Path, blocks: list[tuple[str, str]]) -> list[str]:
    """Steps 1-4 of the stream recipe; returns its shell block's lines."""
    assert [lang for lang, _ in blocks] == ["python"] * 9 + ["sh"], blocks
    model, union, handler_import, notify, router_import, route, routes, test_imports, tests, shell = (
        code for _, code in blocks
    )
    package = project / "src" / PACKAGE
    insert_above(package / "models.py", "ServerMessage: TypeAlias = ", model)
    replace_line(package / "models.py", union)
    add_import(package / "handlers.py", handler_import)
    append(package / "handlers.py", notify)
    add_import(package / "router.py", router_import)
    insert_above(package / "router.py", "ROUTES: ", route)
    replace_line(package / "router.py", routes)
    add_import(project / "tests" / "test_handlers.py", test_imports)
    append(project / "tests" / "test_handlers.py", tests)
    return shell.splitlines()


def uv_shim(directory: Path) -> Path:
    """A ``uv`` whose ``uv run CMD`` runs CMD from this environment; returns its folder."""
    directory.mkdir()
    shim = directory / "uv"
    shim.write_text('#!/bin/sh\n[ "$1" = run ] || { echo "uv shim: only uv run" >&2; exit 2; }\nshift\nexec "$@"\n')
    shim.chmod(0o755)
    return directory


@pytest.mark.parametrize("style", STYLES)
def test_the_readme_recipe_keeps_the_suite_green_without_touching_pattern_files(style: str, tmp_path: Path) -> None:
    project = render_snapshot(tmp_path / "project", package_name=PACKAGE, interface_style=style)
    before = digests(project)
    blocks = recipe((project / "README.md").read_text())
    commands = (apply_stream if style == "stream" else apply_duplex)(project, blocks)
    env = service_env()
    env["PATH"] = os.pathsep.join([str(uv_shim(tmp_path / "shim")), str(Path(sys.executable).parent), env["PATH"]])
    for command in commands:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    after = digests(project)
    # Edited or removed files of the render, and new Python files (not the tools' caches and databases).
    changed = {path for path in before if before[path] != after.get(path)} | {
        path for path in after.keys() - before.keys() if path.endswith(".py")
    }
    assert changed == (USER_FILES if style == "stream" else USER_FILES - {f"src/{PACKAGE}/router.py"})
