"""The template's own Python (its tests, hooks and benchmark) meets the style it asks of generated projects."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .renders import ROOT

pytestmark = pytest.mark.tier1


@pytest.mark.parametrize("folder", ["tests", "hooks", "bench"])
def test_template_python_is_ruff_clean(folder: str) -> None:
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", folder],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
