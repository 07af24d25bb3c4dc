"""After every update: say which files the update removed, and undo a package rename.

Copier deletes the files the old answers rendered and the new ones do not (``auth.py`` on an
``auth`` switch from ``token`` to ``none``, ``dispatch.py`` and ``ratelimit.py`` on a switch
to ``stream``), whether or not you edited them, and says nothing. Copier runs this script as an
``after`` migration (``_migrations`` in ``copier.yml``) with the project as the working
directory; the project's last commit is what it was before the update, because Copier updates
only a clean tree::

    python hooks/report_removed_files.py

It lists every file the update removed and how to get each back from that commit. If the
update changed ``package_name`` (answered at a prompt, where the ``before`` check cannot see
it), it restores the project to its last commit, says why, and exits with status 1: Copier
cannot carry a package over to a new name. Standard library and git only.
"""

from __future__ import annotations

import re
import subprocess
import sys

ANSWERS = ".copier-answers.yml"


def git(*args: str) -> str:
    """Run ``git args`` in the working directory; return its output (fails loudly on error)."""
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def package_name(answers: str) -> str | None:
    """The ``package_name`` line of an answers file's text."""
    match = re.search(r"^package_name:\s*['\"]?([A-Za-z0-9_]+)['\"]?\s*$", answers, re.MULTILINE)
    return match.group(1) if match else None


def main() -> int:
    """Report removed files (exit 0), or undo an update that renamed the package (exit 1)."""
    with open(ANSWERS) as answers:
        new = package_name(answers.read())
    old = package_name(git("show", f"HEAD:{ANSWERS}"))
    if old and new and old != new:
        git("reset", "--quiet")
        git("checkout", "--quiet", "HEAD", "--", ".")
        git("clean", "-fdq")  # only what the update created: Copier refuses an unclean tree
        print(
            f"copier update cannot rename the package from {old!r} to {new!r}; the project is back at its\n"
            f"last commit. To rename it, do it in a commit of your own (git mv src/{old} src/{new}, the\n"
            f"imports, pyproject.toml, and package_name: {new} in {ANSWERS}), then update as usual.",
            file=sys.stderr,
        )
        return 1
    removed = git("diff", "--name-only", "--diff-filter=D", "HEAD").split()
    if removed:
        print("This update removed files the new answers do not render:")
        for path in removed:
            print(f"  {path}")
        print(
            "If you had edited one, your version is in your last commit: `git show HEAD:<file>` prints it,\n"
            "`git checkout HEAD -- <file>` brings it back."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
