"""The longest names copier.yml accepts fit every generated Python line that carries them.

copier.yml caps ``package_name`` at 40 characters and ``project_name`` at 48 so that a render is
formatted the same whatever the name's length (ruff's 120 columns, no line wrapped for a long
name and joined for a short one). This checks the template against the caps without rendering:
each template line that writes a name, with the longest name in it (a ``project_name`` of wide
characters counting two columns), fits, and the caps in copier.yml are the ones checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .renders import ROOT, render_snapshot

pytestmark = pytest.mark.tier1

PACKAGE_NAME_CAP = 40
PROJECT_NAME_CAP = 48
LINE_LENGTH = 120

EXPRESSION = re.compile(r"\{\{.*?\}\}")

PYTHON_TEMPLATE = re.compile(r"\.py(\{% endif %\})?\.jinja$")
"""A template of a ``.py`` file: ``x.py.jinja``, or ``{% if ... %}x.py{% endif %}.jinja``."""


def python_templates() -> list[str]:
    """Every template file that renders Python (its name, conditional parts left, ends in ``.py``)."""
    files = [*ROOT.joinpath("template").rglob("*.jinja"), *ROOT.joinpath("variants").rglob("*.jinja")]
    return sorted(str(path.relative_to(ROOT)) for path in files if PYTHON_TEMPLATE.search(path.name))


def widest(line: str) -> int:
    """Columns of ``line`` rendered with the longest names: a wide character of a project name counts two."""
    line = line.replace("{{ package_name }}", "p" * PACKAGE_NAME_CAP)
    line = line.replace("{{ project_name }}", "名" * PROJECT_NAME_CAP)
    return sum(2 if char == "名" else 1 for char in EXPRESSION.sub("", line))


@pytest.mark.parametrize("template", python_templates())
def test_every_line_that_writes_a_name_fits_with_the_longest_name(template: str) -> None:
    too_long = [
        (number, widest(line))
        for number, line in enumerate((ROOT / template).read_text().splitlines(), 1)
        if ("package_name" in line or "project_name" in line) and widest(line) > LINE_LENGTH
    ]
    assert too_long == [], f"lines (number, columns) over {LINE_LENGTH} with the longest names"


def test_the_caps_checked_here_are_copier_ymls(tmp_path: Path) -> None:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert f"package_name | length > {PACKAGE_NAME_CAP}" in questions["package_name"]["validator"]
    assert f"project_name | length > {PROJECT_NAME_CAP}" in questions["project_name"]["validator"]
    with pytest.raises(ValueError, match=f"keep it to {PACKAGE_NAME_CAP}"):
        render_snapshot(tmp_path / "long", package_name="p" * (PACKAGE_NAME_CAP + 1))
