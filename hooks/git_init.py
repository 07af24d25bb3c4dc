"""Lock a freshly copied project's dependencies and make it a git repository whose first commit is the render.

Copier runs this script as a task after ``copier copy`` (never on update), with the new
project as the working directory::

    python hooks/git_init.py AUTHOR_NAME AUTHOR_EMAIL

When ``uv`` is on ``PATH``, ``uv lock`` writes ``uv.lock`` first, so the first commit pins every
dependency (the CI and the Dockerfile install with ``--locked``); without uv, or when locking
fails (no network), the script says so and commits the render without a lock: ``uv lock`` later
creates it. A failed lock never fails the copy, since Copier deletes a render whose task failed.
``copier update`` needs the project under git with a clean tree, so committing the render
right away makes the first update work out of the box. The script commits nothing when the
project is already inside a git work tree (a monorepo, or a second run): it never commits into
a repository it did not create. The commit uses the user's git identity when one is
configured and the author answers otherwise, so it works on a machine without
``user.name``/``user.email``. Standard library only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

MESSAGE = "Render the service from the copier-litestar-ws template"


def git(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``git`` with ``args`` in the working directory and capture its output."""
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def inside_work_tree() -> Path | None:
    """Return the top of the git work tree holding the working directory, if there is one."""
    result = git("rev-parse", "--show-toplevel")
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def identity(author_name: str, author_email: str) -> list[str]:
    """``-c`` options that supply the author answers where git has no identity configured."""
    options = []
    for key, fallback in (("user.name", author_name), ("user.email", author_email)):
        if git("config", "--get", key).returncode != 0:
            options += ["-c", f"{key}={fallback}"]
    return options


def lock() -> None:
    """Write ``uv.lock`` with ``uv lock`` when uv is installed; say what happened either way."""
    if not Path("pyproject.toml").is_file():
        return
    uv = shutil.which("uv")
    if uv is None:
        print("uv is not installed, so no uv.lock was written; run `uv lock` and commit uv.lock.")
        return
    try:
        result = subprocess.run([uv, "lock", "--quiet"], capture_output=True, text=True, check=False, timeout=600)
    except subprocess.TimeoutExpired:
        print("`uv lock` did not finish within 10 minutes; run it again and commit uv.lock.")
        return
    if result.returncode != 0:
        print(f"`uv lock` failed, so no uv.lock was written; run it again and commit uv.lock:\n{result.stderr}")
        return
    print("Locked the dependencies in uv.lock.")


def main(argv: list[str]) -> int:
    """Lock the dependencies, initialise the repository and commit the render; return the exit code."""
    if len(argv) != 2:
        print("usage: git_init.py AUTHOR_NAME AUTHOR_EMAIL", file=sys.stderr)
        return 2
    lock()
    top = inside_work_tree()
    if top is not None:
        print(f"{Path.cwd()} is already inside the git repository {top}; not creating another one.")
        return 0
    # The rendered CI workflow runs on pushes to main; a configured init.defaultBranch wins.
    branch = [] if git("config", "--get", "init.defaultBranch").returncode == 0 else ["--initial-branch=main"]
    for args in (
        ("init", "--quiet", *branch),
        ("add", "--all"),
        # No signing and no hooks: the user's global commit hooks or a missing GPG agent must
        # not make the copy fail (Copier deletes a render whose task failed).
        (*identity(*argv), "commit", "--quiet", "--no-verify", "--no-gpg-sign", "--message", MESSAGE),
    ):
        result = git(*args)
        if result.returncode != 0:
            print(f"git {' '.join(args)} failed:\n{result.stdout}{result.stderr}", file=sys.stderr)
            return result.returncode
    print(f"Initialised a git repository in {Path.cwd()} with the render as its first commit.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
