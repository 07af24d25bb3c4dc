"""Git for the tests' throwaway repositories: an identity of their own, commits, copies of the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@copier-litestar-ws.invalid",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@copier-litestar-ws.invalid",
}
"""A git identity for the tests' own commits: CI machines may have none configured."""

NOT_TEMPLATE = shutil.ignore_patterns(".git", ".venv", "site", "__pycache__", ".*_cache")
"""What a copy of the working tree leaves out: git metadata, the environment, build output, caches."""


def git(cwd: Path, *args: str) -> str:
    """Run ``git args`` in ``cwd`` with the tests' identity; return its output, fail with it."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **IDENTITY}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)} failed in {cwd}:\n{result.stdout}{result.stderr}"
    return result.stdout


def commit_all(repo: Path, message: str, tag: str | None = None) -> None:
    """Commit every change in ``repo`` (and tag the commit)."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "--message", message)
    if tag:
        git(repo, "tag", tag)
