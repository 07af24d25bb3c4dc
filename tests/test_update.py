"""``copier update`` across template versions, for every interface_style x transport_mode variant.

A throwaway git repository of the template is built once per xdist worker, with three tags:
``v0.0.9`` (before the template shipped a CI workflow), ``v0.1.0`` (this working tree) and
``v0.2.0`` (``v0.1.0`` plus a change to the README, ``.gitignore`` and one new file). Other
throwaway repositories add a release that changes only pattern code (``v0.1.1``), and this
repository's own history with a first tag on the working tree. Projects are
copied at a tag with the copy task on (so the task makes them git repositories) and updated with
Copier's Python API, as ``copier update --trust --defaults`` would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml
from copier.errors import UnsafeTemplateError, UserMessageError

from .gitrepo import NOT_TEMPLATE, commit_all, git
from .matrix import MODES, STYLES
from .renders import ROOT, run_own_suite

pytestmark = pytest.mark.tier3

PACKAGE = "rooms_service"
HANDLERS = f"src/{PACKAGE}/handlers.py"
ROUTER = f"src/{PACKAGE}/router.py"
ANSWERS = ".copier-answers.yml"
OWN_WORKFLOW = ".github/workflows/ci.yml"

README_CHANGE = "\n## Support\n\nAsk in the team's chat; file bugs in the issue tracker.\n"
GITIGNORE_CHANGE = ".env\n"
NEW_FILE = "CONTRIBUTING.md"

CONFLICT = re.compile(r"^<<<<<<< before updating$.*^=======$.*^>>>>>>> after updating$", re.MULTILINE | re.DOTALL)

variant_params = [
    pytest.param(style, mode, id=f"{style}-{mode}", marks=pytest.mark.xdist_group(f"update-{style}-{mode}"))
    for style, mode in zip(STYLES, MODES * len(STYLES), strict=False)
]
"""Every style, the modes taking turns: what a mode rewrites (the codec and a few files, which the
side-by-side tests name) an update merges like any other file, and both modes are here. One
xdist group per variant (so its cached renders are reused), apart from test_variants' groups."""

SWITCHES = [
    pytest.param(
        (style, mode),
        (STYLES[(index + 1) % len(STYLES)], ("binary", "text")[index % 2]),
        id=f"{style}-{mode}-to-{STYLES[(index + 1) % len(STYLES)]}-{('binary', 'text')[index % 2]}",
        marks=pytest.mark.xdist_group(f"update-{style}-{mode}"),
    )
    for index, (style, mode) in enumerate((style, ("text", "binary")[index % 2]) for index, style in enumerate(STYLES))
]
"""Answer changes on update: each style is switched from and to once, each mode both ways."""


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of the template tagged ``v0.0.9``, ``v0.1.0`` and ``v0.2.0``."""
    repo = tmp_path_factory.mktemp("template-repo") / "copier-litestar-ws"
    shutil.copytree(ROOT, repo, ignore=NOT_TEMPLATE)
    git(repo, "init", "--quiet")
    ci_workflow = repo / "template" / ".github"
    shutil.move(ci_workflow, repo.parent / "github-kept-aside")
    commit_all(repo, "Before the template shipped a CI workflow", tag="v0.0.9")
    shutil.move(repo.parent / "github-kept-aside", ci_workflow)
    commit_all(repo, "The template as in this working tree", tag="v0.1.0")
    with (repo / "template" / "README.md.jinja").open("a") as readme:
        readme.write(README_CHANGE)
    with (repo / "template" / ".gitignore").open("a") as gitignore:
        gitignore.write(GITIGNORE_CHANGE)
    (repo / "template" / NEW_FILE).write_text("# Contributing\n\nRun `uv run pytest` before a pull request.\n")
    commit_all(repo, "A later template version", tag="v0.2.0")
    return repo


def copy(template: Path, destination: Path, ref: str, *, tasks: bool = True, **answers: str) -> Path:
    """Render ``template`` at ``ref`` into ``destination``; with ``tasks``, trusted and with its copy task."""
    copier.run_copy(
        str(template),
        destination,
        data=answers,
        vcs_ref=ref,
        defaults=True,
        quiet=True,
        unsafe=tasks,
        skip_tasks=not tasks,
    )
    return destination


def update(project: Path, ref: str | None = None, **answers: str) -> None:
    """``copier update --trust --defaults`` in ``project`` (to the newest tag unless ``ref``)."""
    copier.run_update(
        project,
        data=answers,
        vcs_ref=ref,
        defaults=True,
        overwrite=True,
        unsafe=True,
        skip_answered=True,
        quiet=True,
    )


def update_by_cli(project: Path, answer: str) -> subprocess.CompletedProcess[str]:
    """``copier update --trust --defaults --data ANSWER`` run as a user would, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--data", answer],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


LOCK_FILE = "uv.lock"
"""Written by the copy task (``uv lock``), not rendered: the project's own, and left out of comparisons."""


def tree(project: Path) -> dict[str, bytes]:
    """Every file of ``project`` outside ``.git``, by relative path, except :data:`LOCK_FILE`."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts and path.name != LOCK_FILE
    }


def answers_of(project: Path) -> dict[str, object]:
    """The project's recorded answers."""
    answers: dict[str, object] = yaml.safe_load((project / ANSWERS).read_text())
    return answers


def conflicted(project: Path) -> list[str]:
    """Files with conflict markers, and patch rejects, in ``project``."""
    return [name for name, text in tree(project).items() if b"<<<<<<<" in text or name.endswith(".rej")]


def log_pings(handlers: str) -> str:
    """A user's edit to handlers.py: a line in ``publish()``, which every interface style has."""
    anchor = '    position = await manager.publish(room, text, sender="http")'
    edited = handlers.replace(anchor, '    print("published")  # ours\n' + anchor)
    assert edited != handlers
    return edited


class Projects:
    """Renders of the throwaway template, made once per worker and cloned for each test."""

    def __init__(self, template: Path, folder: Path) -> None:
        self.template, self.folder = template, folder
        self._cache: dict[tuple[object, ...], Path] = {}

    def _cached(self, key: tuple[object, ...], make: Callable[[Path], Path]) -> Path:
        if key not in self._cache:
            self._cache[key] = make(self.folder / "-".join(map(str, key)))
        return self._cache[key]

    def fresh(self, ref: str, style: str, mode: str) -> Path:
        """A render at ``ref`` without the copy task (read-only: do not change it)."""
        return self._cached(
            ("fresh", ref, style, mode),
            lambda path: copy(self.template, path, ref, tasks=False, interface_style=style, transport_mode=mode),
        )

    def committed(self, destination: Path, style: str, mode: str) -> Path:
        """A fresh copy at ``v0.1.0`` in ``destination``, made a git repository by the copy task."""
        pristine = self._cached(
            ("committed", style, mode),
            lambda path: copy(self.template, path, "v0.1.0", interface_style=style, transport_mode=mode),
        )
        shutil.copytree(pristine, destination, symlinks=True)
        return destination


@pytest.fixture(scope="session")
def projects(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Projects:
    """Renders of the throwaway template repository, cached for the session."""
    return Projects(template_repo, tmp_path_factory.mktemp("renders"))


@pytest.fixture(scope="session")
def updated_with_an_edit(projects: Projects, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """A ``v0.1.0`` project whose handlers.py the user edited and committed, updated to ``v0.2.0``."""
    cache: dict[tuple[str, str], Path] = {}

    def get(style: str, mode: str) -> Path:
        if (style, mode) not in cache:
            project = projects.committed(tmp_path_factory.mktemp("updated") / "project", style, mode)
            assert answers_of(project)["_commit"] == "v0.1.0"
            handlers = project / HANDLERS
            handlers.write_text(log_pings(handlers.read_text()))
            commit_all(project, "Print pings")
            update(project)
            cache[style, mode] = project
        return cache[style, mode]

    return get


@pytest.mark.parametrize(("style", "mode"), variant_params)
def test_update_equals_a_fresh_render_of_the_new_tag(
    projects: Projects, updated_with_an_edit: Callable[[str, str], Path], style: str, mode: str
) -> None:
    project, fresh = updated_with_an_edit(style, mode), projects.fresh("v0.2.0", style, mode)
    updated, expected = tree(project), tree(fresh)
    assert updated.keys() == expected.keys()
    assert [name for name in expected if updated[name] != expected[name]] == [HANDLERS]
    assert answers_of(project) == answers_of(fresh)
    assert answers_of(project)["_commit"] == "v0.2.0"
    assert README_CHANGE in (project / "README.md").read_text()
    assert git(project, "status", "--porcelain", "--", NEW_FILE) == f"?? {NEW_FILE}\n"


@pytest.mark.parametrize(("style", "mode"), variant_params)
def test_an_edit_in_handlers_survives_an_update_elsewhere(
    projects: Projects, updated_with_an_edit: Callable[[str, str], Path], style: str, mode: str
) -> None:
    project, fresh = updated_with_an_edit(style, mode), projects.fresh("v0.2.0", style, mode)
    assert (project / HANDLERS).read_text() == log_pings((fresh / HANDLERS).read_text())
    assert conflicted(project) == []


@pytest.mark.parametrize(("old", "new"), SWITCHES)
def test_changing_style_and_mode_on_update_rewrites_the_variant_and_keeps_edits(
    projects: Projects, tmp_path: Path, old: tuple[str, str], new: tuple[str, str]
) -> None:
    """The project ends with exactly the new variant's files (a switch to or from ``stream`` adds or
    deletes dispatch.py and ratelimit.py with their tests); the rest switches content over.

    An edit to a file the new answers do not change (handlers.py) is kept as it is; an edit to
    one they rewrite (router.py) comes back as an inline conflict between the two versions.
    """
    (style, mode), (new_style, new_mode) = old, new
    assert style != new_style
    assert mode != new_mode
    project = projects.committed(tmp_path / "project", style, mode)
    handlers, router = project / HANDLERS, project / ROUTER
    handlers.write_text(log_pings(handlers.read_text()))
    router_lines = router.read_text().splitlines(keepends=True)
    router.write_text('"""Our rooms endpoints, reviewed by the team."""\n' + "".join(router_lines[1:]))
    commit_all(project, "Our edits")

    update(project, interface_style=new_style, transport_mode=new_mode)

    fresh = projects.fresh("v0.2.0", new_style, new_mode)
    updated, expected = tree(project), tree(fresh)
    assert updated.keys() == expected.keys(), "no file of the old variant is left, none of the new one missing"
    assert {name for name in expected if updated[name] != expected[name]} == {HANDLERS, ROUTER}
    assert handlers.read_text() == log_pings((fresh / HANDLERS).read_text())
    merged = router.read_text()
    assert CONFLICT.search(merged), merged[:2000]
    assert "Our rooms endpoints, reviewed by the team." in merged
    assert (fresh / ROUTER).read_text().splitlines()[0] in merged
    assert conflicted(project) == [ROUTER]
    assert git(project, "status", "--porcelain", "--", ROUTER).startswith("UU "), "Git lists router.py as unmerged"
    assert (answers_of(project)["interface_style"], answers_of(project)["transport_mode"]) == (new_style, new_mode)


@pytest.mark.parametrize(("style", "mode"), variant_params)
def test_update_refuses_a_dirty_destination(projects: Projects, tmp_path: Path, style: str, mode: str) -> None:
    project = projects.committed(tmp_path / "project", style, mode)
    (project / HANDLERS).write_text((project / HANDLERS).read_text() + "\n# not committed yet\n")
    with pytest.raises(UserMessageError, match="Destination repository is dirty; cannot continue"):
        update(project)
    assert answers_of(project)["_commit"] == "v0.1.0"


@pytest.mark.parametrize(("style", "mode"), variant_params)
def test_update_refuses_a_destination_not_under_git(projects: Projects, tmp_path: Path, style: str, mode: str) -> None:
    """As after ``copier copy --skip-tasks``: the render, without the repository the task makes."""
    project = projects.committed(tmp_path / "project", style, mode)
    shutil.rmtree(project / ".git")
    with pytest.raises(UserMessageError, match="Updating is only supported in git-tracked subprojects"):
        update(project)


def test_update_refuses_a_project_rendered_from_a_template_not_under_git(template_repo: Path, tmp_path: Path) -> None:
    """Refused before any variant-specific work, so one variant shows it for all."""
    plain = tmp_path / "plain-template"
    shutil.copytree(template_repo, plain, ignore=NOT_TEMPLATE)
    with warnings.catch_warnings():
        # Copier warns that a template outside git cannot be updated from: the point of this test.
        warnings.filterwarnings("ignore", message=".*", category=UserWarning)
        project = copy(plain, tmp_path / "project", "v0.1.0")
    assert "_commit" not in answers_of(project)
    with pytest.raises(UserMessageError, match="Cannot update because cannot obtain old template references"):
        update(project)


def test_update_needs_trust_even_with_skip_tasks(projects: Projects, tmp_path: Path) -> None:
    """The old version's tasks count whatever --skip-tasks says, and so do the migrations every update runs."""
    project = projects.committed(tmp_path / "project", "listener", "text")
    with pytest.raises(UnsafeTemplateError, match=r"unsafe features: migrations, tasks\."):
        copier.run_update(project, defaults=True, overwrite=True, skip_answered=True, skip_tasks=True, quiet=True)

    older = copy(projects.template, tmp_path / "older", "v0.0.9")
    with pytest.raises(UnsafeTemplateError, match=r"unsafe features: migrations, tasks\."):
        copier.run_update(
            older, vcs_ref="v0.1.0", defaults=True, overwrite=True, skip_answered=True, skip_tasks=True, quiet=True
        )


def test_a_project_from_a_template_outside_git_updates_once_its_answers_name_a_tag(
    template_repo: Path, tmp_path: Path
) -> None:
    """The fix docs/updating.md gives: point _src_path at the git template, _commit at its tag."""
    plain = tmp_path / "plain-template"
    shutil.copytree(template_repo, plain, ignore=NOT_TEMPLATE)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*", category=UserWarning)
        project = copy(plain, tmp_path / "project", "v0.1.0")
    answers_file = project / ANSWERS
    answers_file.write_text(
        answers_file.read_text().replace(f"_src_path: {plain}", f"_src_path: {template_repo}\n_commit: v0.1.0")
    )
    commit_all(project, "Record where the template came from")

    update(project)

    assert answers_of(project)["_commit"] == "v0.2.0"
    assert README_CHANGE in (project / "README.md").read_text()


def test_migration_moves_a_projects_own_workflow_aside(template_repo: Path, tmp_path: Path) -> None:
    """Updating a render older than 0.1.0 keeps the project's own ci.yml, as ci-project.yml."""
    project = copy(template_repo, tmp_path / "project", "v0.0.9")
    own = "name: Our CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n"
    (project / ".github/workflows").mkdir(parents=True)
    (project / OWN_WORKFLOW).write_text(own)
    commit_all(project, "Our own CI")

    update(project, ref="v0.1.0")

    assert (project / ".github/workflows/ci-project.yml").read_text() == own
    fresh = copy(template_repo, tmp_path / "fresh", "v0.1.0", tasks=False)
    assert (project / OWN_WORKFLOW).read_text() == (fresh / OWN_WORKFLOW).read_text()
    assert not [name for name, text in tree(project).items() if b"<<<<<<<" in text or name.endswith(".rej")]


PATTERN_FIXES = {
    "src/{{package_name}}/{% if duplex %}dispatch.py{% endif %}.jinja": "async def dispatch(",
    "src/{{package_name}}/codec.py.jinja": "def parse(",
    "src/{{package_name}}/manager.py.jinja": "class ConnectionManager",
    "tests/helpers.py.jinja": "class FakeSocket",
}
"""Pattern files a throwaway release changes, each at the line it inserts a fix above."""

PATTERN_FIX = "# Fixed in the next template release.\n"


@pytest.fixture(scope="session")
def pattern_release_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The throwaway template at ``v0.1.0``, plus ``v0.1.1``: a release that changes only pattern code.

    ``v0.1.1`` touches the dispatch path (``dispatch.py``, ``codec.py``), ``manager.py`` and the
    tests' shared helpers (``tests/helpers.py``, also given a new helper at its end), nothing else.
    """
    repo = tmp_path_factory.mktemp("pattern-release") / "copier-litestar-ws"
    git(template_repo.parent, "clone", "--quiet", "--branch", "v0.1.0", str(template_repo), str(repo))
    git(repo, "tag", "--delete", "v0.2.0")
    for name, anchor in PATTERN_FIXES.items():
        path = repo / "template" / name
        text = path.read_text()
        assert text.count(anchor) == 1, f"{anchor!r} is not once in {name}"
        path.write_text(text.replace(anchor, PATTERN_FIX + anchor))
    with (repo / "template" / "tests" / "helpers.py.jinja").open("a") as helpers:
        helpers.write(
            '\n\ndef decoded(frames: list[str | bytes]) -> list[object]:\n    """Frames as JSON."""\n'
            "    return [json.loads(frame) for frame in frames]\n"
        )
    git(repo, "switch", "--quiet", "--create", "next")
    commit_all(repo, "Fix pattern code", tag="v0.1.1")
    return repo


SHOUT_MODEL = '''

class Shout(_Message):
    """``{"type":"shout","room":R,"text":T}``: our own message type, say in capitals."""

    type: Literal["shout"]
    room: RoomName
    text: MessageText
'''

SHOUT_CASE = """        case Shout(room=room, text=text):
            if room not in connection.rooms:
                return Error(code="not_member", detail="Join the room before shouting in it.")
            await manager.publish(room, text.upper(), sender=connection.sender)
            return None
"""

SHOUT_TEST = """

async def test_shout_reaches_members_in_capitals() -> None:
    manager = await started_manager()
    socket = FakeSocket()
    connection = manager.connect(socket)
    start_sending(connection)
    await handle(Join(type="join", room="r"), connection, manager)
    assert await handle(Shout(type="shout", room="r", text="hi"), connection, manager) is None
    assert (await socket.wait_for_messages(1))[0]["text"] == "HI"
    await manager.disconnect(connection)
"""

SETTING = '    shout_prefix: str = "!"\n    """Our own setting: what a shout starts with."""\n\n'


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path``; fail if it is not there exactly once."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def add_a_message_type_and_a_setting(project: Path) -> None:
    """What a team does first: its own message type (model, case, test) and a setting."""
    src = project / "src" / PACKAGE
    models = src / "models.py"
    replace_once(
        models,
        "\n\nClientMessage = Annotated[Ping | Join | Leave | Say | Who,",
        SHOUT_MODEL + "\n\nClientMessage = Annotated[Ping | Join | Leave | Say | Who | Shout,",
    )
    replace_once(src / "handlers.py", "    Say,\n    ServerMessage,\n", "    Say,\n    ServerMessage,\n    Shout,\n")
    replace_once(src / "handlers.py", "        case _:\n", SHOUT_CASE + "        case _:\n")
    replace_once(project / "tests" / "test_handlers.py", "    Say,\n    Who,\n", "    Say,\n    Shout,\n    Who,\n")
    with (project / "tests" / "test_handlers.py").open("a") as tests:
        tests.write(SHOUT_TEST)
    replace_once(src / "settings.py", "    max_message_bytes: int", SETTING + "    max_message_bytes: int")


@pytest.mark.xdist_group("update-listener-text")
def test_an_update_of_pattern_code_does_not_conflict_with_a_new_message_type(
    pattern_release_repo: Path, tmp_path: Path
) -> None:
    """The measure of keeping pattern code apart: user files and template fixes merge cleanly."""
    project = copy(pattern_release_repo, tmp_path / "project", "v0.1.0")
    add_a_message_type_and_a_setting(project)
    commit_all(project, "Shout, and its prefix setting")
    ours = tree(project)

    update(project)

    fresh = copy(pattern_release_repo, tmp_path / "fresh", "v0.1.1", tasks=False)
    updated, expected = tree(project), tree(fresh)
    assert conflicted(project) == []
    assert "UU" not in git(project, "status", "--porcelain")
    assert answers_of(project)["_commit"] == "v0.1.1"
    assert updated.keys() == expected.keys()
    fixed = {
        name
        for name in expected
        if name in ours and expected[name] != ours[name] and PATTERN_FIX.encode() in expected[name]
    }
    assert fixed == {
        f"src/{PACKAGE}/dispatch.py",
        f"src/{PACKAGE}/codec.py",
        f"src/{PACKAGE}/manager.py",
        "tests/helpers.py",
    }
    for name in fixed:
        assert updated[name] == expected[name], f"{name} did not get the release's fix"
    edited = {
        "src/rooms_service/models.py",
        "src/rooms_service/handlers.py",
        "src/rooms_service/settings.py",
        "tests/test_handlers.py",
    }
    assert {name for name in expected if updated[name] != expected[name]} == edited
    for name in edited:
        assert updated[name] == ours[name], f"the team's {name} changed"
    result = run_own_suite(project, "tests/test_handlers.py", "tests/test_dispatch.py")
    assert re.search(r"\d+ passed", result.stdout), result.stdout


UPDATE_MACHINERY = ("copier.yml", "hooks", f"template/{OWN_WORKFLOW}.jinja")
"""What decides how an update from a render runs: questions, tasks and migrations, their scripts, the workflow."""

RECENT_COMMITS = 3
"""How many of the newest first-parent commits are covered whatever they changed."""


def git_lines(*args: str) -> list[str]:
    """Output words of ``git args`` in this repository; empty where it is not a git clone."""
    result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    return result.stdout.split() if result.returncode == 0 else []


def renders_the_workflow(commit: str) -> bool:
    """Whether the template at ``commit`` renders the CI workflow (``template/.github/workflows/ci.yml.jinja``)."""
    return (
        subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:template/{OWN_WORKFLOW}.jinja"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def commits_with_the_workflow() -> list[str]:
    """A sample of this repository's commits whose template renders the CI workflow, newest first.

    Every first-parent commit would be a test each (34 at the first release, one more per
    merge): most differ from their neighbours only in files an unedited project takes as they
    come, which ``test_update_equals_a_fresh_render_of_the_new_tag`` covers already. What can
    change how an update from a render runs lives in :data:`UPDATE_MACHINERY`, so the sample is:

    - every first-parent commit that changed :data:`UPDATE_MACHINERY` against its first parent:
      each is the oldest render of one state of it (renders up to the next such commit share
      that state), the first of them the first render with the workflow, which the 0.1.0
      migration must tell from a project's own;
    - every release tag reachable from ``HEAD``: what users render from;
    - the :data:`RECENT_COMMITS` newest first-parent commits: renders made just now, and where a
      change to the template lands first.

    It grows only with changes to the update machinery and with releases (7 commits at the first
    release: 34 took 211 s, these 50 s). Empty where this working tree is not a git clone with
    history (CI checks out with ``fetch-depth: 0``).
    """
    changed_the_machinery = git_lines("log", "--first-parent", "--format=%H", "HEAD", "--", *UPDATE_MACHINERY)
    released = set(git_lines("rev-list", "--no-walk", "--tags")) & set(git_lines("rev-list", "HEAD"))
    first_parents = git_lines("rev-list", "--first-parent", "HEAD")
    chosen = set(changed_the_machinery) | released | set(first_parents[:RECENT_COMMITS])
    ordered = [commit for commit in first_parents if commit in chosen] + sorted(released - set(first_parents))
    return [commit[:12] for commit in ordered if renders_the_workflow(commit)]


HISTORY = commits_with_the_workflow()


def test_the_history_sample_covers_the_first_render_with_the_workflow_and_head() -> None:
    """The sample's ends, found without its path filter: a wrong filter would drop the migration's boundary."""
    first_parents = git_lines("rev-list", "--first-parent", "HEAD")
    if not first_parents:
        pytest.skip("not a git clone with history (CI checks out with fetch-depth: 0)")
    with_the_workflow = [commit[:12] for commit in first_parents if renders_the_workflow(commit)]
    assert with_the_workflow[-1] in HISTORY, "the first render with the workflow"
    assert with_the_workflow[0] == HISTORY[0] == first_parents[0][:12]
    assert set(HISTORY) <= set(with_the_workflow)


@pytest.fixture(scope="session")
def history_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's history without its tags, plus this working tree tagged ``v0.1.0``.

    As when the first release is cut on a commit later than every render made so far.
    """
    repo = tmp_path_factory.mktemp("history") / "copier-litestar-ws"
    git(ROOT, "clone", "--quiet", "--no-tags", str(ROOT), str(repo))
    for tag in git(repo, "tag", "--list").split():
        git(repo, "tag", "--delete", tag)
    git(repo, "rm", "-r", "--quiet", "--cached", ".")
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(ROOT, repo, ignore=NOT_TEMPLATE, dirs_exist_ok=True)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "--no-verify", "--no-gpg-sign", "--message", "The first release")
    git(repo, "tag", "--annotate", "--message", "First release", "v0.1.0")
    return repo


@pytest.mark.parametrize(
    "commit",
    [
        pytest.param(commit, marks=pytest.mark.xdist_group(f"history-{index % 2}"))
        for index, commit in enumerate(HISTORY)
    ],
)
def test_a_render_from_any_commit_keeps_the_templates_workflow_on_the_first_release(
    history_repo: Path, tmp_path: Path, commit: str
) -> None:
    """The 0.1.0 migration runs for every untagged render, and must not move the template's ci.yml."""
    project = copy(history_repo, tmp_path / "project", commit, tasks=False)
    git(project, "init", "--quiet")
    commit_all(project, "Rendered before the first release")
    assert (project / OWN_WORKFLOW).is_file()

    update(project)

    fresh = copy(history_repo, tmp_path / "fresh", "v0.1.0", tasks=False)
    assert answers_of(project)["_commit"] == "v0.1.0"
    assert not (project / ".github/workflows/ci-project.yml").exists()
    assert (project / OWN_WORKFLOW).read_text() == (fresh / OWN_WORKFLOW).read_text()
    assert not [line for line in git(project, "status", "--porcelain").splitlines() if line.startswith("R")]
    assert conflicted(project) == []


@pytest.mark.xdist_group("update-listener-text")
def test_changing_package_name_on_update_is_refused_before_anything_changes(projects: Projects, tmp_path: Path) -> None:
    """Copier would leave the user's edits and modules behind in src/<old>/; the migration refuses."""
    project = projects.committed(tmp_path / "project", "listener", "text")
    (project / HANDLERS).write_text(log_pings((project / HANDLERS).read_text()))
    (project / "src" / PACKAGE / "extra.py").write_text('"""Our own module."""\n')
    commit_all(project, "Our edits")
    before = tree(project), git(project, "status", "--porcelain"), git(project, "rev-parse", "HEAD")
    result = update_by_cli(project, "package_name=chat_rooms")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot rename the package from 'rooms_service' to 'chat_rooms'" in result.stderr
    assert "Nothing was changed." in result.stderr
    assert "Traceback" not in result.stderr
    assert (tree(project), git(project, "status", "--porcelain"), git(project, "rev-parse", "HEAD")) == before


@pytest.mark.xdist_group("update-listener-text")
def test_an_answer_switch_that_deletes_an_edited_file_says_so(projects: Projects, tmp_path: Path) -> None:
    """auth token -> none deletes auth.py, edited or not; the after-migration lists what went."""
    project = copy(projects.template, tmp_path / "project", "v0.1.0", auth="token")
    auth = project / "src" / PACKAGE / "auth.py"
    edited = auth.read_text() + "\n# our JWT check goes here\n"
    auth.write_text(edited)
    commit_all(project, "Our token check")
    result = update_by_cli(project, "auth=none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not auth.exists()
    assert "This update removed files the new answers do not render:" in result.stdout
    assert f"  src/{PACKAGE}/auth.py\n" in result.stdout
    assert "  tests/test_auth.py\n" in result.stdout
    assert "git checkout HEAD -- <file>" in result.stdout
    assert git(project, "show", f"HEAD:src/{PACKAGE}/auth.py") == edited


TEAM_DEPENDENCY = '    "pyyaml>=6",\n'
"""A dev dependency the team adds to its pyproject.toml, far from the lines an answer switch rewrites."""


def lock_is_current(project: Path) -> subprocess.CompletedProcess[str]:
    """``uv lock --check`` in ``project``: exit 0 when ``uv.lock`` matches ``pyproject.toml``, as ``--locked`` needs."""
    uv = shutil.which("uv")
    assert uv is not None, "uv runs the template's tests"
    return subprocess.run(
        [uv, "lock", "--check"], cwd=project, capture_output=True, text=True, check=False, timeout=300
    )


def with_a_dependency_of_the_teams(project: Path) -> Path:
    """The team's own dev dependency in pyproject.toml, locked and committed, as a team does it."""
    replace_once(
        project / "pyproject.toml",
        '    "types-jsonschema>=4.23,<5",\n',
        '    "types-jsonschema>=4.23,<5",\n' + TEAM_DEPENDENCY,
    )
    uv = shutil.which("uv")
    assert uv is not None
    subprocess.run([uv, "lock", "--quiet"], cwd=project, check=True, timeout=300)
    commit_all(project, "Our own dev dependency")
    assert lock_is_current(project).returncode == 0
    return project


@pytest.mark.xdist_group("update-listener-text")
def test_an_answer_switch_that_changes_pyproject_relocks_uv_lock(projects: Projects, tmp_path: Path) -> None:
    """broker=redis adds redis to pyproject.toml: the update re-locks once the team's edits are merged back.

    ``uv lock --check`` is the check ``uv sync --locked`` makes (the generated CI and Dockerfile):
    without the re-lock it fails. The team's own dependency is in the new lock too, which a
    re-lock run before Copier merges the team's edits back (a ``_tasks`` entry) would drop.
    """
    project = with_a_dependency_of_the_teams(projects.committed(tmp_path / "project", "listener", "text"))

    result = update_by_cli(project, "broker=redis")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Re-locked uv.lock for the changed pyproject.toml (uv lock); commit it with the update." in result.stdout
    assert TEAM_DEPENDENCY in (project / "pyproject.toml").read_text()
    assert '"redis>=5.2,<9"' in (project / "pyproject.toml").read_text()
    checked = lock_is_current(project)
    assert checked.returncode == 0, checked.stderr
    lock = tomllib.loads((project / "uv.lock").read_text())
    locked = {package["name"] for package in lock["package"]}
    assert {"redis", "pyyaml"} <= locked
    assert " M uv.lock" in git(project, "status", "--porcelain").splitlines()


@pytest.mark.xdist_group("update-listener-text")
def test_without_uv_an_update_that_changes_pyproject_says_uv_lock_is_needed(projects: Projects, tmp_path: Path) -> None:
    project = projects.committed(tmp_path / "project", "listener", "text")
    # Every tool of this machine but uv (git's own scripts need sed, basename and the like).
    without_uv = os.pathsep.join(
        folder for folder in os.environ["PATH"].split(os.pathsep) if not (Path(folder) / "uv").exists()
    )
    assert shutil.which("uv", path=without_uv) is None

    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--data", "broker=redis"],
        cwd=project,
        env={**os.environ, "PATH": without_uv},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "!!! uv.lock is out of date: this update changed pyproject.toml, and uv is not installed here.\n"
        "!!! Run `uv lock` here and commit uv.lock with the update: until then every\n"
        "!!! `uv sync --locked` (the CI workflow, the Dockerfile) fails.\n"
    ) in result.stderr
    assert git(project, "status", "--porcelain", "--", "uv.lock") == "", "the lock is left as it was"
    assert lock_is_current(project).returncode != 0, "and it is stale, as the message says"
