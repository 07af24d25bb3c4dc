"""Migration to 0.1.0: move a project's own CI workflow aside before the template's arrives.

Releases before 0.1.0 rendered no ``.github/workflows/ci.yml``; 0.1.0 ships one. A project
rendered before 0.1.0 that wrote its own ``ci.yml`` would otherwise get one whole-file update
conflict. Copier runs this script before the update (``_migrations`` in ``copier.yml``) with the
project as the working directory; it renames the project's file to ``ci-project.yml`` (with
``git mv``, so the rename is part of what the update merges) and the template's workflow is
added next to it. Both keep running; delete whichever you do not want.

Idempotent: it does nothing when there is no ``ci.yml`` or when ``ci-project.yml`` already
exists, so a second run (or a run after the update, when ``ci.yml`` is the template's) changes
nothing. Standard library only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OLD = Path(".github/workflows/ci.yml")
NEW = Path(".github/workflows/ci-project.yml")


def tracked(path: Path) -> bool:
    """Whether git tracks ``path`` (relative to the working directory)."""
    result = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "--", str(path)], capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def main() -> int:
    """Move ``ci.yml`` to ``ci-project.yml`` unless there is nothing to move; return the exit code."""
    if not OLD.is_file() or NEW.exists():
        return 0
    if tracked(OLD):
        subprocess.run(["git", "mv", "--", str(OLD), str(NEW)], check=True)
    else:
        OLD.rename(NEW)
    print(f"Moved your {OLD} to {NEW}: the template now ships its own {OLD}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
