"""The template's own test code meets the style it asks of generated projects."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_template_tests_are_ruff_clean() -> None:
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "tests"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
