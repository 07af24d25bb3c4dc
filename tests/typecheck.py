"""``mypy --strict`` over many renders of one package name, each distinct module set once, with one cache.

Renders of one name share most of their modules, and mypy's incremental mode re-checks only a
module that changed or whose dependencies' interfaces changed. So the renders are copied one
after the other into one staging project (only the files that differ are written) and mypy runs
there, in this process, with one cache per package name that later runs reuse. Walked in the
Gray-code order of tests/matrix.py (one answer changes per step), a step costs about a second
where a fresh check costs 20.

A changed file gets a modification time later than any before it: mypy trusts a file whose
size and whole-second mtime match its cache entry, and two renders' versions of a file can have
the same size.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO

from mypy import api

from .renders import CACHE, TOOL_CACHES


def _digest(project: Path) -> str:
    """A digest of what mypy reads from ``project``: its Python files and its pyproject.toml."""
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        if path.is_file() and (path.suffix in {".py", ".pyi"} or path.name in {"py.typed", "pyproject.toml"}):
            digest.update(path.relative_to(project).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class Typecheck:
    """One staging project and one mypy cache for a walk through renders (``walk`` names the cache)."""

    def __init__(self, walk: str, stage: Path) -> None:
        self.stage = stage
        self.stage.mkdir(parents=True, exist_ok=True)
        self.checked: dict[str, str] = {}
        """Module-set digest -> the render first checked with it."""
        self.clock = int(time.time())
        shared = CACHE / "mypy" / walk
        shared.mkdir(parents=True, exist_ok=True)
        self._lock: IO[str] | None = (shared / "lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.cache = shared / "cache"
        except BlockingIOError:  # another run type-checks this name now: a cache of our own, cold
            self._lock.close()
            self._lock = None
            self.cache = Path(tempfile.mkdtemp(prefix="mypy-cache-", dir=stage.parent))

    def check(self, project: Path) -> str | None:
        """mypy's report on ``project`` when it finds errors; ``None`` when it passes.

        A render whose module set was checked before is not checked again.
        """
        digest = _digest(project)
        if digest in self.checked:
            return None
        self._sync(project)
        with contextlib.chdir(self.stage):
            out, err, status = api.run(["--cache-dir", str(self.cache)])
        self.checked[digest] = project.name
        return None if status == 0 else f"mypy found errors in {project.name}:\n{out}{err}"

    def _sync(self, project: Path) -> None:
        """Make the staging project a copy of ``project``, writing only the files that differ."""
        wanted = {
            path.relative_to(project)
            for path in project.rglob("*")
            if path.is_file() and not TOOL_CACHES & set(path.relative_to(project).parts)
        }
        present = {path.relative_to(self.stage) for path in self.stage.rglob("*") if path.is_file()}
        for stale in present - wanted:
            (self.stage / stale).unlink()
        self.clock += 1
        for name in wanted:
            source, target = project / name, self.stage / name
            if target.is_file() and source.read_bytes() == target.read_bytes():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            os.utime(target, (self.clock, self.clock))

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
