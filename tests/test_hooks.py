"""The hooks in hooks/: the copy task that commits the render, the migration, and trust.

The copy task is what makes the template "unsafe" for Copier: ``copier copy`` refuses it without
``--trust`` unless ``--skip-tasks`` is given. The scripts are run here as Copier runs them (from
a copy of this working tree) and directly, twice, to show they are idempotent.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from copier.errors import UnsafeTemplateError

from .gitrepo import IDENTITY, commit_all, git
from .renders import ROOT, copy_working_tree

HOOKS = ROOT / "hooks"
WORKFLOWS = Path(".github/workflows")


def without_git_identity(home: Path) -> dict[str, str]:
    """The environment of a machine where git knows no user.name or user.email (a fresh CI runner)."""
    empty = home / "empty-gitconfig"
    empty.write_text("")
    environment = {name: value for name, value in os.environ.items() if name not in IDENTITY and name != "EMAIL"}
    return {**environment, "GIT_CONFIG_GLOBAL": str(empty), "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(home)}


def run_hook(script: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``hooks/<script>`` with ``cwd`` as the working directory, as a Copier task does."""
    return subprocess.run(
        [sys.executable, str(HOOKS / script), *args], cwd=cwd, capture_output=True, text=True, check=True
    )


def state(repo: Path) -> tuple[str, str, dict[str, bytes]]:
    """What a hook could change in ``repo``: its commits, its index and status, its files."""
    files = {
        path.relative_to(repo).as_posix(): path.read_bytes()
        for path in repo.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }
    return git(repo, "log", "--all", "--format=%H"), git(repo, "status", "--porcelain"), files


@pytest.mark.tier3
def test_trusted_copy_is_a_git_repository_with_the_render_as_its_only_commit(tmp_path: Path) -> None:
    """``copier copy --trust`` from the command line, on a machine without a git identity."""
    project = tmp_path / "service"
    command = [
        sys.executable,
        "-m",
        "copier",
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        str(ROOT),
        str(project),
    ]
    result = subprocess.run(command, env=without_git_identity(tmp_path), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Locked the dependencies in uv.lock" in result.stdout
    assert "Initialised a git repository" in result.stdout
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    committed = git(project, "ls-files").splitlines()
    assert {"src/rooms_service/router.py", "uv.lock"} <= set(committed)
    # The lock is the one CI and the Dockerfile install from: it agrees with pyproject.toml.
    subprocess.run(["uv", "lock", "--check", "--quiet"], cwd=project, check=True, timeout=300)
    assert git(project, "log", "--format=%an <%ae>").strip() == "Your Name <you@example.com>"
    assert git(project, "branch", "--show-current").strip() == "main"


@pytest.mark.tier1
def test_copy_with_skip_tasks_needs_no_trust_and_makes_no_repository(tmp_path: Path) -> None:
    project = copy_working_tree(tmp_path / "service", unsafe=False, skip_tasks=True)
    assert (project / "src/rooms_service/app.py").is_file()
    assert not (project / ".git").exists()


@pytest.mark.tier1
def test_copy_without_trust_or_skip_tasks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeTemplateError, match=r"unsafe feature: tasks\.\n.*--trust"):
        copy_working_tree(tmp_path / "service", unsafe=False)
    assert not (tmp_path / "service").exists()


@pytest.mark.tier3
def test_copy_inside_an_existing_repository_commits_nothing(tmp_path: Path) -> None:
    monorepo = tmp_path / "monorepo"
    monorepo.mkdir()
    git(monorepo, "init", "--quiet")
    (monorepo / "README.md").write_text("# Services\n")
    commit_all(monorepo, "Start")
    project = copy_working_tree(monorepo / "services" / "rooms", unsafe=True)
    assert not (project / ".git").exists()
    assert git(monorepo, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(monorepo, "status", "--porcelain").strip() == "?? services/"


@pytest.mark.tier1
def test_git_init_hook_run_twice_commits_once(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hi')\n")
    first = run_hook("git_init.py", tmp_path, "Ann Author", "ann@example.com")
    assert "Initialised a git repository" in first.stdout
    before = state(tmp_path)
    second = run_hook("git_init.py", tmp_path, "Ann Author", "ann@example.com")
    assert "already inside the git repository" in second.stdout
    assert state(tmp_path) == before
    assert git(tmp_path, "rev-list", "--count", "HEAD").strip() == "1"


def only_git_on_path(directory: Path) -> dict[str, str]:
    """The environment of a machine with git but without uv."""
    directory.mkdir()
    git_binary = shutil.which("git")
    assert git_binary is not None
    (directory / "git").symlink_to(git_binary)
    return {**os.environ, "PATH": str(directory)}


@pytest.mark.tier1
@pytest.mark.parametrize(
    ("dependencies", "expected"),
    [(None, "uv is not installed, so no uv.lock was written"), ('["not a requirement !"]', "`uv lock` failed")],
    ids=["without-uv", "lock-fails"],
)
def test_without_a_lock_the_render_is_still_committed_and_the_hook_says_why(
    tmp_path: Path, dependencies: str | None, expected: str
) -> None:
    project = tmp_path / "service"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "service"\nversion = "0"\ndependencies = {dependencies or "[]"}\n'
    )
    environment = only_git_on_path(tmp_path / "bin") if dependencies is None else None
    result = subprocess.run(
        [sys.executable, str(HOOKS / "git_init.py"), "Ann Author", "ann@example.com"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert git(project, "ls-files").splitlines() == ["pyproject.toml"]


def template_at(repo: Path, *, ships_workflow: bool) -> tuple[str, str]:
    """A template repository whose one commit does (or does not) render ``ci.yml``: (path, commit)."""
    repo.mkdir()
    git(repo, "init", "--quiet")
    (repo / "copier.yml").write_text("_subdirectory: template\n")
    (repo / "template").mkdir()
    (repo / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    if ships_workflow:
        (repo / "template" / WORKFLOWS).mkdir(parents=True)
        (repo / "template" / WORKFLOWS / "ci.yml.jinja").write_text("name: CI\n")
    commit_all(repo, "A template")
    return str(repo), git(repo, "rev-parse", "--short", "HEAD").strip()


def project_with_workflow(project: Path, workflow: str) -> Path:
    """A committed project holding ``.github/workflows/ci.yml`` with ``workflow``."""
    project.mkdir()
    git(project, "init", "--quiet")
    (project / WORKFLOWS).mkdir(parents=True)
    (project / WORKFLOWS / "ci.yml").write_text(workflow)
    commit_all(project, "CI")
    return project


@pytest.mark.tier1
def test_migration_moves_the_projects_own_workflow_once(tmp_path: Path) -> None:
    """The recorded commit rendered no ci.yml: the project's is the team's own, moved aside."""
    template = template_at(tmp_path / "template", ships_workflow=False)
    project = project_with_workflow(tmp_path / "project", "name: Ours\n")

    first = run_hook("move_own_ci_workflow.py", project, *template)
    moved = state(project)
    assert moved[2] == {".github/workflows/ci-project.yml": b"name: Ours\n"}
    assert moved[1] == "R  .github/workflows/ci.yml -> .github/workflows/ci-project.yml\n"
    assert "Moved your .github/workflows/ci.yml" in first.stdout

    run_hook("move_own_ci_workflow.py", project, *template)
    assert state(project) == moved


@pytest.mark.tier1
def test_migration_never_moves_a_workflow_the_template_rendered(tmp_path: Path) -> None:
    """The recorded commit rendered ci.yml: it is the template's file, edited or not; it stays."""
    template = template_at(tmp_path / "template", ships_workflow=True)
    project = project_with_workflow(tmp_path / "project", "name: CI\n# our extra step\n")
    before = state(project)
    result = run_hook("move_own_ci_workflow.py", project, *template)
    assert state(project) == before
    assert result.stdout == ""


@pytest.mark.tier1
def test_migration_leaves_the_templates_workflow_alone_once_both_exist(tmp_path: Path) -> None:
    template = template_at(tmp_path / "template", ships_workflow=False)
    project = project_with_workflow(tmp_path / "project", "name: CI\n")
    (project / WORKFLOWS / "ci-project.yml").write_text("name: Ours\n")
    commit_all(project, "After the update")
    before = state(project)
    run_hook("move_own_ci_workflow.py", project, *template)
    assert state(project) == before


@pytest.mark.tier1
@pytest.mark.parametrize(
    "script", [*sorted(f"hooks/{path.name}" for path in HOOKS.glob("*.py")), "scripts/release_tags.py"]
)
def test_hooks_and_scripts_use_only_the_standard_library_and_say_what_they_do(script: str) -> None:
    """They run before anything is installed: in Copier's tasks and migrations, in any clone, on a bare runner."""
    module = ast.parse((ROOT / script).read_text())
    assert ast.get_docstring(module), f"{script} has no docstring"
    imported = {
        alias.name.split(".")[0] for node in ast.walk(module) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(module) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    functions = [node for node in ast.walk(module) if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions if not ast.get_docstring(f)] == []


@pytest.mark.tier1
def test_every_hook_copier_runs_exists() -> None:
    config = (ROOT / "copier.yml").read_text()
    referenced = {line.split("/hooks/")[1].strip().strip('"') for line in config.splitlines() if "/hooks/" in line}
    assert referenced == {path.name for path in HOOKS.glob("*.py")}


@pytest.mark.tier1
def test_report_hook_undoes_an_update_that_renamed_the_package(tmp_path: Path) -> None:
    """A package_name changed at a prompt: the after-migration puts the last commit back, exits 1."""
    git(tmp_path, "init", "--quiet")
    (tmp_path / ".copier-answers.yml").write_text("_commit: v0.1.0\npackage_name: rooms_service\n")
    (tmp_path / "src" / "rooms_service").mkdir(parents=True)
    (tmp_path / "src" / "rooms_service" / "handlers.py").write_text("# ours\n")
    commit_all(tmp_path, "Before the update")
    before = state(tmp_path)
    (tmp_path / ".copier-answers.yml").write_text("_commit: v0.1.0\npackage_name: chat\n")
    (tmp_path / "src" / "rooms_service" / "handlers.py").unlink()
    (tmp_path / "src" / "chat").mkdir()
    (tmp_path / "src" / "chat" / "handlers.py").write_text("# the template's\n")
    result = subprocess.run(
        [sys.executable, str(HOOKS / "report_removed_files.py")], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "cannot rename the package from 'rooms_service' to 'chat'" in result.stderr
    assert state(tmp_path) == before


def project_with_a_lock(project: Path, dependencies: str = "[]") -> Path:
    """A committed project whose uv.lock matches its pyproject.toml."""
    project.mkdir()
    git(project, "init", "--quiet")
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "service"\nversion = "0"\nrequires-python = ">=3.11"\ndependencies = {dependencies}\n'
    )
    subprocess.run(["uv", "lock", "--quiet"], cwd=project, check=True, timeout=300)
    commit_all(project, "Render")
    return project


@pytest.mark.tier1
def test_relock_hook_leaves_a_project_alone_when_pyproject_did_not_change(tmp_path: Path) -> None:
    project = project_with_a_lock(tmp_path / "service")
    (project / "README.md").write_text("# changed by the update\n")
    before = state(project)
    result = run_hook("relock_after_update.py", project, "False")
    assert (result.stdout, result.stderr) == ("", "")
    assert state(project) == before


@pytest.mark.tier1
def test_relock_hook_relocks_a_changed_pyproject_and_can_run_twice(tmp_path: Path) -> None:
    project = project_with_a_lock(tmp_path / "service")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0"', 'version = "1"'))
    for _ in range(2):
        result = run_hook("relock_after_update.py", project, "False")
        assert "Re-locked uv.lock" in result.stdout
        subprocess.run(["uv", "lock", "--check", "--quiet"], cwd=project, check=True, timeout=300)
    assert git(project, "status", "--porcelain") == " M pyproject.toml\n M uv.lock\n"


@pytest.mark.tier1
@pytest.mark.parametrize(
    ("skip_tasks", "pyproject_change", "reason"),
    [
        pytest.param("True", ("version", "version"), "--skip-tasks was given, so `uv lock` was not run", id="skip"),
        pytest.param(
            "False",
            ('version = "0"', '<<<<<<< before updating\nversion = "0"\n=======\nversion = "1"\n>>>>>>> after updating'),
            "pyproject.toml has conflicts to resolve first",
            id="conflict",
        ),
        pytest.param(
            "False", ("dependencies = []", 'dependencies = ["not a requirement !"]'), "`uv lock` failed", id="fails"
        ),
    ],
)
def test_relock_hook_says_loudly_when_it_cannot_lock(
    tmp_path: Path, skip_tasks: str, pyproject_change: tuple[str, str], reason: str
) -> None:
    project = project_with_a_lock(tmp_path / "service")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(*pyproject_change) + "# changed by the update\n")
    lock = (project / "uv.lock").read_bytes()
    result = run_hook("relock_after_update.py", project, skip_tasks)
    assert result.stdout == ""
    assert "!!! uv.lock is out of date: this update changed pyproject.toml, and " + reason in result.stderr
    assert "!!! Run `uv lock` here and commit uv.lock with the update" in result.stderr
    assert (project / "uv.lock").read_bytes() == lock
