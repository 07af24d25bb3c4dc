"""Before every update: refuse to change ``package_name``, before anything is touched.

Copier cannot carry a package over to a new name: it renders ``src/<new>/`` afresh, applies
your edits to ``src/<old>/`` files that no longer exist, and deletes the template's files of
``src/<old>/``, so an edited ``handlers.py`` ends up in neither package and a module of your
own is left behind in an orphaned ``src/<old>/``. Copier runs this script as a ``before``
migration (``_migrations`` in ``copier.yml``), with the project as the working directory and
its answers file not yet rewritten::

    python hooks/refuse_package_rename.py NEW_PACKAGE_NAME

``NEW_PACKAGE_NAME`` is the ``package_name`` given with ``--data`` (answers given at the prompts
are not known yet at this stage), or empty when none was given.

It reads the recorded ``package_name`` from ``.copier-answers.yml`` and, if the new answer
differs, prints how to rename the package instead and exits with status 1, which makes Copier
stop the update with the project unchanged. (A rename done by hand, with ``package_name`` set to
the new name in the answers file in the same commit, then updates cleanly: Copier renders the
old release with the recorded answers.) Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ANSWERS = Path(".copier-answers.yml")


def recorded_package_name(answers: str) -> str | None:
    """The ``package_name`` line of an answers file's text (Copier writes plain YAML scalars)."""
    match = re.search(r"^package_name:\s*['\"]?([A-Za-z0-9_]+)['\"]?\s*$", answers, re.MULTILINE)
    return match.group(1) if match else None


def main(argv: list[str]) -> int:
    """Exit 1 with a message if ``argv[0]`` differs from the recorded package name, else 0."""
    if len(argv) != 1:
        print("usage: refuse_package_rename.py NEW_PACKAGE_NAME", file=sys.stderr)
        return 2
    new = argv[0]
    old = recorded_package_name(ANSWERS.read_text()) if ANSWERS.is_file() else None
    if not new or old is None or old == new:
        return 0
    print(
        f"copier update cannot rename the package from {old!r} to {new!r}: Copier would render\n"
        f"src/{new}/ afresh and drop your edits to src/{old}/. Nothing was changed.\n"
        f"To rename it, do it in a commit of your own, then update as usual: git mv src/{old} src/{new},\n"
        f"replace {old} by {new} in the imports and in pyproject.toml, and set package_name: {new}\n"
        f"in .copier-answers.yml, so that the recorded answers describe the project again.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
