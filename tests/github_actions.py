"""GitHub Actions workflow files as data: shared by the workflow tests and the release tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow as data; YAML 1.1 reads the ``on`` key as ``True``, GitHub as ``"on"``."""
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow
