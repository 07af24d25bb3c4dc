"""After every update: re-lock ``uv.lock`` when the update changed ``pyproject.toml``.

An update can change the project's ``pyproject.toml``: an answer switch (``broker=redis`` adds
redis, ``python_version`` changes ``requires-python``) or a release that changes a dependency.
``uv.lock`` then no longer matches it, and every ``uv sync --locked`` (the generated CI, the
Dockerfile) fails, far from the update that caused it. Copier runs this script as the last
``after`` migration (``_migrations`` in ``copier.yml``), with the project as the working
directory, once the update is merged; the project's last commit is what it was before the
update, because Copier updates only a clean tree::

    python hooks/relock_after_update.py SKIP_TASKS

``SKIP_TASKS`` is Copier's ``--skip-tasks`` flag as rendered (``True`` or ``False``).

When ``pyproject.toml`` differs from the last commit and the project has a ``uv.lock``, it runs
``uv lock``, which keeps every locked version the new ``pyproject.toml`` still allows and
resolves only what changed, and leaves the new lock uncommitted with the rest of the update.
When it cannot (uv is not installed, ``--skip-tasks`` was given, ``pyproject.toml`` holds
conflict markers, or ``uv lock`` fails), it says loudly that ``uv lock`` is needed and why. It
never fails the update (exit status 0): the merged update is already in the working tree, and a
lock can be made afterwards. A project without ``uv.lock`` has no lock to go stale. Standard
library and git only.

Why a migration and not a ``_tasks`` entry gated on ``_copier_operation == 'update'``: Copier
9.19 runs a template's tasks during an update three times, with ``_copier_operation`` set to
``update`` each time: in a throwaway render of the *old* release (with that release's tasks),
in the project right after the new release is rendered over it but *before* the user's edits
are merged back (a dependency the user added would be missing from the lock), and in a
throwaway render of the new release; and ``--skip-tasks`` turns all three off. An ``after``
migration runs once, in the project, after the merge (``copier/_main.py``,
``Worker._apply_update``; ``tests/test_update.py`` shows a user's own dependency survives).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

PYPROJECT = "pyproject.toml"
LOCK = "uv.lock"
CONFLICT = re.compile(r"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)


def pyproject_changed() -> bool:
    """Whether ``pyproject.toml`` differs from the last commit (the project before the update)."""
    result = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", PYPROJECT], capture_output=True, text=True, check=False
    )
    return result.returncode != 0


def needs_lock(reason: str) -> None:
    """Say loudly, on stderr, that ``uv lock`` is needed, and ``reason`` why it was not run."""
    print(
        f"\n!!! {LOCK} is out of date: this update changed {PYPROJECT}, and {reason}.\n"
        f"!!! Run `uv lock` here and commit {LOCK} with the update: until then every\n"
        f"!!! `uv sync --locked` (the CI workflow, the Dockerfile) fails.\n",
        file=sys.stderr,
    )


def main(argv: list[str]) -> int:
    """Re-lock, or say that a lock is needed; return the exit status (0, or 2 on bad usage)."""
    if len(argv) != 1 or argv[0] not in ("True", "False"):
        print("usage: relock_after_update.py SKIP_TASKS (True or False)", file=sys.stderr)
        return 2
    if not Path(LOCK).is_file() or not Path(PYPROJECT).is_file() or not pyproject_changed():
        return 0
    uv = shutil.which("uv")
    if CONFLICT.search(Path(PYPROJECT).read_text()):
        needs_lock(f"{PYPROJECT} has conflicts to resolve first")
        return 0
    if argv[0] == "True":
        needs_lock("--skip-tasks was given, so `uv lock` was not run")
        return 0
    if uv is None:
        needs_lock("uv is not installed here")
        return 0
    try:
        result = subprocess.run([uv, "lock", "--quiet"], capture_output=True, text=True, check=False, timeout=600)
    except subprocess.TimeoutExpired:
        needs_lock("`uv lock` did not finish within 10 minutes")
        return 0
    if result.returncode != 0:
        needs_lock(f"`uv lock` failed:\n{result.stderr.strip()}")
        return 0
    print(f"Re-locked {LOCK} for the changed {PYPROJECT} (uv lock); commit it with the update.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
