"""Rendering the template's working tree, once per answer set, for every test and tier that needs it.

A render is made with Copier's own ``Worker`` from a snapshot of the working tree's template
files (``copier.yml``, ``template/``, ``variants/``: committed or not, as ``copier copy
--vcs-ref HEAD`` would take them, ignored files left out), and kept in a cache folder under a key
of the snapshot's content and Copier's and Jinja's versions: the tiers of one ``.ci/run``, the
xdist workers of one session and the next run on an unchanged template all share it. The
snapshot is not a git repository, so a render's answers file records no ``_commit``; tests of
what Copier records (tests/test_questions.py, tests/test_update.py) copy from git instead, and
tests/test_renders.py shows both ways render the same bytes otherwise.

Renders are read-only by convention: a test that runs something able to write into the project
(a generated suite writes ``.hypothesis/``, coverage its data file) runs it in a copy
(:func:`working_copy`). A cached render whose files changed anyway is rendered again.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import copier
from jinja2.sandbox import SandboxedEnvironment

try:
    from copier._main import Worker

    _FAST = isinstance(getattr(Worker, "jinja_env", None), cached_property)
except ImportError:  # pragma: no cover (a Copier release that moved it)
    Worker, _FAST = object, False  # type: ignore[assignment,misc]

from .matrix import Variant

ROOT = Path(__file__).resolve().parent.parent
"""The template repository (its working tree, uncommitted changes included)."""

TEMPLATE_PARTS = ("copier.yml", "template", "variants")
"""What a render is made from: the questionnaire, the rendered tree and what it includes."""

CACHE = Path(
    os.environ.get("COPIER_LITESTAR_WS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "copier-litestar-ws"
)
"""Caches kept between runs: renders by template content, mypy's by package name, and so on."""

KEEP_RENDER_SETS = 4
"""How many template states' renders the cache keeps (the newest by use)."""

TOOL_CACHES = {".mypy_cache", ".ruff_cache", "__pycache__", ".pytest_cache", ".hypothesis"}


def service_env(**extra: str) -> dict[str, str]:
    """The environment for a generated project's tools and servers: ours, minus any ``WS_*`` setting,
    plus ``extra``. Python writes no bytecode into the shared render."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("WS_")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run(project: Path, *command: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``project`` as the working directory; fail with its output on a non-zero exit."""
    result = subprocess.run(
        command, cwd=project, env=service_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed in {project}:\n{result.stdout}\n{result.stderr}"
    return result


def run_own_suite(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The project's own suite as its CI runs it, but with the quick hypothesis profile.

    Run it in a :func:`working_copy`: the suite writes into the project's folder.
    """
    return run(
        project,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--hypothesis-profile=quick",
        *options,
    )


def files_of(project: Path) -> set[str]:
    """The project's files, relative and POSIX-style, tool caches left out."""
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and not TOOL_CACHES & set(path.relative_to(project).parts)
    }


def working_copy(project: Path, parent: Path) -> Path:
    """A copy of the render ``project`` under ``parent``, for a test that writes into it."""
    return Path(shutil.copytree(project, parent / project.name, symlinks=True))


class _SharedEnvironmentWorker(Worker):
    """Copier's Worker with one Jinja environment per template folder, shared by every render.

    Copier builds and compiles everything anew for each copy; 160 renders of one template
    spend most of their time there (about 0.7 s a render, against 0.15 s shared). The
    environment's settings come from the template alone (``_envops``, ``_jinja_extensions``),
    and the answers reach each render as its context, so one environment serves all renders of
    a process; ``from_string`` (file names, question defaults) is memoised on top.

    Copier's ``Worker`` is internal API (``copier._main``): if it moves, :func:`render_snapshot`
    falls back to ``copier.run_copy``, slower but the same; tests/test_renders.py compares the
    bytes with ``copier copy``'s either way.
    """

    _environments: ClassVar[dict[Path, SandboxedEnvironment]] = {}

    @cached_property
    def jinja_env(self) -> SandboxedEnvironment:
        folder = self.template.local_abspath
        if folder not in self._environments:
            environment = Worker.jinja_env.func(self)  # type: ignore[attr-defined]
            environment.from_string = functools.lru_cache(maxsize=None)(environment.from_string)  # type: ignore[method-assign]
            self._environments[folder] = environment
        return self._environments[folder]

    def _sync_git_index_executable_bit(self, *args: Any) -> None:
        """A no-op: it runs ``git config`` once per rendered file, and does nothing for a
        destination outside a git repository, which every render here is."""


@functools.cache
def template_snapshot() -> tuple[Path, str]:
    """This process's copy of the template files of the working tree, and a key of their content.

    The key covers Copier's and Jinja's versions too: another version may render other bytes.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *TEMPLATE_PARTS],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    snapshot = Path(tempfile.mkdtemp(prefix="copier-litestar-ws-template-"))
    atexit.register(shutil.rmtree, snapshot, ignore_errors=True)
    digest = hashlib.sha256()
    for package in ("copier", "jinja2"):
        digest.update(f"{package} {importlib.metadata.version(package)}\n".encode())
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree, not yet in the index
            continue
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        digest.update(f"{name} {source.stat().st_mode & 0o111:o}\n".encode())
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    return snapshot, digest.hexdigest()[:16]


def render_snapshot(destination: Path, **answers: object) -> Path:
    """Render the template snapshot with ``answers`` over the defaults into ``destination``.

    Raises:
        ValueError: an answer is refused by its validator or is not one of its choices.
    """
    snapshot, _ = template_snapshot()
    options: dict[str, Any] = {"data": answers, "defaults": True, "quiet": True, "skip_tasks": True, "unsafe": False}
    with warnings.catch_warnings():
        # A template folder outside git renders projects that cannot be updated: Copier says so.
        warnings.simplefilter("ignore", UserWarning)
        if _FAST:
            with _SharedEnvironmentWorker(src_path=str(snapshot), dst_path=destination, **options) as worker:
                worker.run_copy()
        else:
            copier.run_copy(str(snapshot), destination, **options)
    return destination


def copy_working_tree(destination: Path, **options: Any) -> Path:
    """``copier copy --defaults --vcs-ref HEAD`` of the working tree, as a template developer runs it.

    Slower than :func:`render_snapshot` (a git clone per copy) but records ``_commit``.

    Raises:
        ValueError: an answer is refused by its validator or is not one of its choices.
    """
    with warnings.catch_warnings():
        # Rendering a working tree with uncommitted changes is what these tests are for.
        warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
        copier.run_copy(str(ROOT), destination, defaults=True, vcs_ref="HEAD", quiet=True, **options)
    return destination


def _manifest(project: Path) -> str:
    """Every file's path, size and modification time: what a test writing into a render changes."""
    entries = []
    for path in sorted(project.rglob("*")):
        if path.is_file() or path.is_symlink():
            stat = path.lstat()
            entries.append(f"{path.relative_to(project).as_posix()} {stat.st_size} {stat.st_mtime_ns}")
    return "\n".join(entries)


class Renders:
    """Renders by answer set, in ``CACHE/renders/<template key>/<variant id>``.

    Safe across processes: a lock file per answer set makes one process render it while the
    others wait for that render.
    """

    def __init__(self, root: Path = CACHE / "renders") -> None:
        _, key = template_snapshot()
        self.folder = root / key
        self.folder.mkdir(parents=True, exist_ok=True)
        os.utime(self.folder)  # the newest by use is kept
        self._prune(root)
        self._checked: set[Variant] = set()

    def __call__(self, variant: Variant) -> Path:
        """The render of ``variant`` (made now if the cache has no intact one)."""
        project = self.folder / variant.id
        if variant in self._checked:
            return project
        manifest = self.folder / f"{variant.id}.manifest"
        # Another run (other template state) prunes all but the sets used last: mark this one used.
        self.folder.mkdir(parents=True, exist_ok=True)
        os.utime(self.folder)
        with (self.folder / f"{variant.id}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed
            if not (project.is_dir() and manifest.is_file() and manifest.read_text() == _manifest(project)):
                manifest.unlink(missing_ok=True)
                shutil.rmtree(project, ignore_errors=True)
                render_snapshot(project, **variant.answers)
                manifest.write_text(_manifest(project))
        self._checked.add(variant)
        return project

    def _prune(self, root: Path) -> None:
        """Remove the renders of all but the :data:`KEEP_RENDER_SETS` template states used last."""
        sets = sorted((path for path in root.iterdir() if path.is_dir()), key=lambda path: path.stat().st_mtime)
        for stale in sets[:-KEEP_RENDER_SETS]:
            shutil.rmtree(stale, ignore_errors=True)
