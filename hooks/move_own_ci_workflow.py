"""Migration to 0.1.0: move a project's own CI workflow aside, never the template's.

Renders of the template from before it shipped ``.github/workflows/ci.yml`` may hold a workflow
the team wrote itself at that path; the template's would then arrive as one whole-file update
conflict. Copier runs this script before the update (``_migrations`` in ``copier.yml``) with the
project as the working directory::

    python hooks/move_own_ci_workflow.py TEMPLATE_REPOSITORY RECORDED_COMMIT

It looks up whether the template at the project's recorded commit (``_commit``, Copier's
``_version_from``) rendered ``ci.yml``. If it did, the project's ``ci.yml`` is the template's
(possibly edited, which the update merges as usual) and nothing moves: this is every render
since the template shipped the workflow. Only if that commit rendered no ``ci.yml`` is the
project's file the team's own; it is renamed to ``ci-project.yml`` (with ``git mv``, so the
rename is part of what the update merges) and the template's workflow is added next to it.

Idempotent: it does nothing when there is no ``ci.yml`` or when ``ci-project.yml`` already
exists. Standard library and git only: the template's tree at a commit answers the question
without rendering it, because the workflow's file name depends on no answer.
"""

from __future__ import annotations

import re
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


def show(template: str, commit: str, path: str) -> str | None:
    """The content of ``path`` at ``commit`` of the ``template`` repository, or ``None`` if absent."""
    result = subprocess.run(
        ["git", "-C", template, "show", f"{commit}:{path}"], capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def template_rendered_workflow(template: str, commit: str) -> bool:
    """Whether the template repository at ``commit`` renders ``.github/workflows/ci.yml``.

    Reads ``_subdirectory`` and ``_templates_suffix`` from that commit's ``copier.yml`` (Copier's
    defaults: none and ``.jinja``) and looks for the file, with or without the suffix.

    Raises:
        subprocess.CalledProcessError: ``commit`` is not in ``template`` (git's message says so).
    """
    subprocess.run(
        ["git", "-C", template, "rev-parse", "--verify", f"{commit}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    )
    config = show(template, commit, "copier.yml") or show(template, commit, "copier.yaml") or ""
    subdirectory = re.search(r"^_subdirectory:\s*['\"]?([^'\"\s#]+)", config, re.MULTILINE)
    suffix = re.search(r"^_templates_suffix:\s*['\"]?([^'\"\s#]*)", config, re.MULTILINE)
    rendered = (f"{subdirectory.group(1).strip('/')}/" if subdirectory else "") + OLD.as_posix()
    with_suffix = rendered + (suffix.group(1) if suffix else ".jinja")
    return show(template, commit, rendered) is not None or show(template, commit, with_suffix) is not None


def main(argv: list[str]) -> int:
    """Move the team's own ``ci.yml`` to ``ci-project.yml``; return the exit code."""
    if len(argv) != 2:
        print("usage: move_own_ci_workflow.py TEMPLATE_REPOSITORY RECORDED_COMMIT", file=sys.stderr)
        return 2
    if not OLD.is_file() or NEW.exists() or template_rendered_workflow(*argv):
        return 0
    if tracked(OLD):
        subprocess.run(["git", "mv", "--", str(OLD), str(NEW)], check=True)
    else:
        OLD.rename(NEW)
    print(f"Moved your {OLD} to {NEW}: the template now ships its own {OLD}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
