"""Make a freshly copied project a git repository whose first commit is the render.

Copier runs this script as a task after ``copier copy`` (never on update), with the new
project as the working directory::

    python hooks/git_init.py AUTHOR_NAME AUTHOR_EMAIL

``copier update`` needs the project under git with a clean tree, so committing the render
right away makes the first update work out of the box. The script does nothing when the
project is already inside a git work tree (a monorepo, or a second run): it never commits into
a repository it did not create. The commit uses the user's git identity when one is
configured and the author answers otherwise, so it works on a machine without
``user.name``/``user.email``. Standard library only.
"""

from __future__ import annotations

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


def main(argv: list[str]) -> int:
    """Initialise the repository and commit the render; return the process exit code."""
    if len(argv) != 2:
        print("usage: git_init.py AUTHOR_NAME AUTHOR_EMAIL", file=sys.stderr)
        return 2
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
