"""The generated README's "Add a message type" recipe, followed literally (tier 2 runs it).

Each code block of the recipe goes where its sentence says (above a line, in place of a union
line, at the end of a file), into the user's files only; :func:`follow` returns the recipe's
shell commands, which the test then runs as written.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

BLOCK = re.compile(r"^   ```(?P<lang>python|sh)\n(?P<code>.*?)^   ```$", re.DOTALL | re.MULTILINE)
TOOL_CACHES = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def user_files(package: str, duplex: bool) -> set[str]:
    """The files the recipe may edit: the user's own, and router.py (shared) for the stream's route."""
    files = {f"src/{package}/models.py", f"src/{package}/handlers.py", "tests/test_handlers.py"}
    return files if duplex else files | {f"src/{package}/router.py"}


def blocks(readme: str) -> list[tuple[str, str]]:
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
    """Replace the line of ``path`` that assigns the same name as ``line`` (``ClientMessage = ...``) by it.

    ``line`` may be a statement over several lines; the one it replaces is a single line.
    """
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
    """Put ``code`` at the end of ``path``, two blank lines below what is there."""
    path.write_text(path.read_text().rstrip("\n") + "\n\n\n" + code)


def digests(project: Path) -> dict[str, str]:
    """SHA-256 of every file of ``project`` but the tool caches, by path."""
    return {
        path.relative_to(project).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in project.rglob("*")
        if path.is_file() and not TOOL_CACHES & set(path.parts)
    }


def _apply_duplex(project: Path, package: Path, code: list[tuple[str, str]]) -> list[str]:
    # Steps 1-3 of the duplex recipe; returns its shell block's lines.
    assert [lang for lang, _ in code] == ["python"] * 6 + ["sh"], code
    models, unions, handler_imports, cases, test_imports, tests, shell = (text for _, text in code)
    insert_above(package / "models.py", "ClientMessage = ", models)
    for statement in re.split(r"\n(?=\w)", unions.rstrip("\n")):  # a statement starts with a name
        replace_line(package / "models.py", statement + "\n")
    add_import(package / "handlers.py", handler_imports)
    insert_above(package / "handlers.py", "        case _:", cases.rstrip("\n"))
    add_import(project / "tests" / "test_handlers.py", test_imports)
    append(project / "tests" / "test_handlers.py", tests)
    return shell.splitlines()


def _apply_stream(project: Path, package: Path, code: list[tuple[str, str]]) -> list[str]:
    # Steps 1-4 of the stream recipe; returns its shell block's lines.
    assert [lang for lang, _ in code] == ["python"] * 9 + ["sh"], code
    model, union, handler_import, notify, router_import, route, routes, test_imports, tests, shell = (
        text for _, text in code
    )
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


def follow(project: Path, package_name: str, duplex: bool) -> list[str]:
    """Apply the recipe of ``project``'s README to its files; returns the recipe's shell commands, in order."""
    code = blocks((project / "README.md").read_text())
    package = project / "src" / package_name
    return (_apply_duplex if duplex else _apply_stream)(project, package, code)
