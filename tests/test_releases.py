"""Releases from files on main: the release rule, the tag script, and what Copier does with the tags.

A release is the commit on main that sets ``pyproject.toml``'s version and the newest
``CHANGELOG.md`` heading to ``X.Y.Z``; ``scripts/release_tags.py`` turns such commits into the
tags Copier needs, in any clone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .github_actions import load_workflow
from .gitrepo import IDENTITY, NOT_TEMPLATE, commit_all, git
from .releases import NO_TAGS, SCRIPT, release_commit, release_tags
from .renders import ROOT

ANSWERS = ".copier-answers.yml"


@pytest.mark.tier1
def test_pyproject_version_is_the_newest_changelog_release() -> None:
    """The rule on this working tree, and in the lock, where uv records the project's version too."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = release_tags.check_release_files(pyproject, (ROOT / "CHANGELOG.md").read_text())
    assert version == tomllib.loads(pyproject)["project"]["version"]
    locked = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    assert [package["version"] for package in locked if package["name"] == "copier-litestar-ws"] == [version], (
        "uv.lock records another version: run `uv lock` in the release commit"
    )


@pytest.mark.tier1
def test_the_check_runs_as_the_release_workflow_runs_it() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pyproject.toml and CHANGELOG.md agree" in result.stdout


CHANGELOG = "# Changelog\n\n## Unreleased\n\n- work\n\n## 0.1.1\n\n- fix\n\n## 0.1.0\n\n- first\n"


def pyproject(version: str) -> str:
    """A ``pyproject.toml`` text with ``version``."""
    return f'[project]\nname = "x"\nversion = "{version}"\n'


@pytest.mark.tier1
def test_the_rule_accepts_work_in_progress_above_the_newest_release() -> None:
    assert release_tags.check_release_files(pyproject("0.1.1"), CHANGELOG) == "0.1.1"
    assert release_tags.check_release_files(pyproject("0.1.1"), CHANGELOG.replace("## Unreleased\n\n- work\n\n", ""))


@pytest.mark.tier1
@pytest.mark.parametrize(
    ("version", "changelog", "message"),
    [
        pytest.param("0.1.0", CHANGELOG, "pyproject.toml says version 0.1.0, the newest release", id="drift"),
        pytest.param(
            "0.1.1",
            CHANGELOG.replace("## 0.1.0", "## Unreleased"),
            "'## Unreleased' may only be the first heading",
            id="unreleased-below",
        ),
        pytest.param(
            "0.1.1", CHANGELOG.replace("## 0.1.0", "## Next"), "heading '## Next' is not a release", id="not-a-version"
        ),
        pytest.param(
            "0.1.0",
            CHANGELOG.replace("## 0.1.1", "## 0.1.2").replace("## 0.1.0", "## 0.1.3").replace("## 0.1.2", "## 0.1.0"),
            "not newest first",
            id="order",
        ),
        pytest.param("0.1.1", "# Changelog\n\n## Unreleased\n", "no release heading", id="none-released"),
    ],
)
def test_the_rule_refuses_files_that_disagree(version: str, changelog: str, message: str) -> None:
    with pytest.raises(release_tags.ReleaseError, match=message):
        release_tags.check_release_files(pyproject(version), changelog)


# A throwaway history of this template, built the way main grows: untagged 0.1.1, work, the
# first tagged release 0.2.0, migrations, a release 0.3.0 merged from a branch, more work.

MIGRATIONS = """\
  # Throwaway migrations of tests/test_releases.py: each records the version it migrated from.
  - version: "0.2.0"
    command: ["{{ _copier_python }}", "-c", "open('migrated-to-0.2.0', 'w').write('{{ _version_pep440_from }}')"]
    when: "{{ _stage == 'after' }}"
  - version: "0.3.0"
    command: ["{{ _copier_python }}", "-c", "open('migrated-to-0.3.0', 'w').write('{{ _version_pep440_from }}')"]
    when: "{{ _stage == 'after' }}"
"""


def note_in_readme(repo: Path, note: str) -> None:
    """A template change every render shows: a line at the end of the generated README."""
    with (repo / "template" / "README.md.jinja").open("a") as readme:
        readme.write(f"\n{note}\n")


@dataclass(frozen=True)
class History:
    """The throwaway template repository and its commits by name."""

    repo: Path
    commits: dict[str, str]


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """This working tree as release 0.1.1 (untagged), then work, 0.2.0, work, 0.3.0 (merged), work.

    No tags: they are what the script makes. ``commits`` names each commit of main's history.
    """
    repo = tmp_path_factory.mktemp("release-history") / "copier-litestar-ws"
    shutil.copytree(ROOT, repo, ignore=NOT_TEMPLATE)
    text = (repo / "pyproject.toml").read_text()
    (repo / "pyproject.toml").write_text(
        text.replace(f'version = "{tomllib.loads(text)["project"]["version"]}"', 'version = "0.1.1"', 1)
    )
    changelog = "# Changelog\n\n## Unreleased\n\n## 0.1.1\n\n- fixes\n\n## 0.1.0\n\n- the first release\n"
    (repo / "CHANGELOG.md").write_text(changelog)
    git(repo.parent, "init", "--quiet", "--initial-branch=main", str(repo))
    commits: dict[str, str] = {}

    def mark(name: str) -> None:
        commits[name] = git(repo, "rev-parse", "HEAD").strip()

    commit_all(repo, "The template, released as 0.1.1 before the repository had tags")
    mark("0.1.1")
    note_in_readme(repo, "Work after 0.1.1.")
    commit_all(repo, "Work after 0.1.1, copied by users before any tag existed")
    mark("after-0.1.1")
    note_in_readme(repo, "Release 0.2.0.")
    release_commit(repo, "0.2.0")
    mark("0.2.0")
    config = repo / "copier.yml"
    config.write_text(config.read_text().replace("_migrations:\n", "_migrations:\n" + MIGRATIONS, 1))
    commit_all(repo, "Migrations for 0.2.0 and 0.3.0")
    mark("after-0.2.0")
    git(repo, "switch", "--quiet", "--create", "release-0.3.0")
    note_in_readme(repo, "Release 0.3.0.")
    release_commit(repo, "0.3.0")
    mark("0.3.0-on-its-branch")
    git(repo, "switch", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "--no-edit", "release-0.3.0")
    mark("0.3.0")
    note_in_readme(repo, "Work after 0.3.0.")
    commit_all(repo, "Work after 0.3.0")
    mark("after-0.3.0")
    return History(repo, commits)


def clone_of(history: History, destination: Path) -> Path:
    """A fresh clone of the history's main, as a user gets it: every commit, no tag."""
    git(destination.parent, "clone", "--quiet", "--no-tags", str(history.repo), str(destination))
    assert git(destination, "tag", "--list") == ""
    return destination


def run_script(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python scripts/release_tags.py ARGS`` in ``clone``, as its docs say to run it."""
    return subprocess.run(
        [sys.executable, "scripts/release_tags.py", *args], cwd=clone, capture_output=True, text=True, check=False
    )


def tags_of(clone: Path) -> dict[str, str]:
    """Every tag of ``clone`` and the commit it names."""
    lines = git(clone, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags").splitlines()
    return dict(line.split() for line in lines)


@pytest.mark.tier3
def test_the_script_tags_each_release_from_0_2_0_on_the_commit_that_made_it(history: History, tmp_path: Path) -> None:
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    result = run_script(clone)
    assert result.returncode == 0, result.stderr
    # 0.3.0 was bumped on a branch: its tag is main's merge commit, the first of main's own
    # commits to say 0.3.0, never the branch's commit (which main's history does not hold).
    assert tags_of(clone) == {"v0.2.0": history.commits["0.2.0"], "v0.3.0": history.commits["0.3.0"]}
    assert "Not tagged, released before the first tagged release 0.2.0: 0.1.1." in result.stdout
    assert f"Tagged v0.2.0 on {history.commits['0.2.0'][:12]}." in result.stdout
    # Lightweight: the tag is the commit, the same in every clone, so a recreated tag equals a pushed one.
    assert git(clone, "cat-file", "-t", "v0.2.0").strip() == "commit"

    again = run_script(clone)
    assert again.returncode == 0, again.stderr
    assert "v0.3.0 is already on" in again.stdout
    assert tags_of(clone) == {"v0.2.0": history.commits["0.2.0"], "v0.3.0": history.commits["0.3.0"]}


@pytest.mark.tier3
def test_the_script_never_moves_a_tag_and_tags_nothing_on_a_dry_run(history: History, tmp_path: Path) -> None:
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    dry = run_script(clone, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"Would tag v0.3.0 on {history.commits['0.3.0'][:12]}." in dry.stdout
    assert tags_of(clone) == {}

    git(clone, "tag", "v0.2.0", history.commits["after-0.2.0"])
    moved = run_script(clone)
    assert moved.returncode == 1
    assert "v0.2.0 names" in moved.stderr
    assert "release tags never move" in moved.stderr
    assert tags_of(clone) == {"v0.2.0": history.commits["after-0.2.0"], "v0.3.0": history.commits["0.3.0"]}


@pytest.mark.tier3
def test_the_script_refuses_a_shallow_clone(history: History, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth=1", f"file://{history.repo}", str(shallow))
    result = run_script(shallow)
    assert result.returncode == 1
    assert "git fetch --unshallow" in result.stderr
    assert tags_of(shallow) == {}


def copier_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``copier ARGS`` from the command line in ``cwd``, as a user runs it, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "copier", *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def copy_service(clone: Path, destination: Path, *ref: str) -> subprocess.CompletedProcess[str]:
    """``copier copy --skip-tasks --defaults [--vcs-ref REF] CLONE DESTINATION``, then the first commit.

    The copy task's work (``git init`` and a first commit; no lock, which these tests do not
    need) is done here, so that the copy needs no ``uv lock``.
    """
    result = copier_cli(clone.parent, "copy", "--skip-tasks", "--defaults", *ref, str(clone), str(destination))
    assert result.returncode == 0, result.stderr
    git(destination, "init", "--quiet")
    commit_all(destination, "Render the service")
    return result


def recorded_commit(project: Path) -> str:
    """``_commit`` of the project's answers file."""
    commit: str = yaml.safe_load((project / ANSWERS).read_text())["_commit"]
    return commit


DEVELOPMENT_VERSION = r"0\.0\.0\.post\d+\.dev0\+[0-9a-f]+"
"""The version Copier gives a commit no release tag precedes."""


@pytest.mark.tier3
def test_without_tags_copier_warns_and_records_the_commit(history: History, tmp_path: Path) -> None:
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    result = copy_service(clone, tmp_path / "service")
    assert NO_TAGS in result.stderr
    assert recorded_commit(tmp_path / "service") == git(clone, "describe", "--tags", "--always").strip()
    assert history.commits["after-0.3.0"].startswith(recorded_commit(tmp_path / "service"))


@pytest.mark.tier3
def test_without_tags_an_update_follows_the_clones_newest_commit_and_skips_versioned_migrations(
    history: History, tmp_path: Path
) -> None:
    """Every version is then ``0.0.0.postN``: the update works, but no release's migration is in range."""
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    git(clone, "switch", "--quiet", "--detach", history.commits["after-0.1.1"])
    service = tmp_path / "service"
    copy_service(clone, service)
    git(clone, "switch", "--quiet", "main")

    result = copier_cli(service, "update", "--trust", "--defaults")

    assert result.returncode == 0, result.stderr
    assert NO_TAGS in result.stderr
    assert history.commits["after-0.3.0"].startswith(recorded_commit(service))
    assert "Work after 0.3.0." in (service / "README.md").read_text()
    assert not (service / "migrated-to-0.2.0").exists()
    assert not (service / "migrated-to-0.3.0").exists()


@pytest.mark.tier3
def test_with_the_tags_copier_renders_and_records_the_newest_release(history: History, tmp_path: Path) -> None:
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    assert run_script(clone).returncode == 0
    result = copy_service(clone, tmp_path / "service")
    assert NO_TAGS not in result.stderr
    assert "Copying from template version 0.3.0" in result.stderr
    assert recorded_commit(tmp_path / "service") == "v0.3.0"
    readme = (tmp_path / "service" / "README.md").read_text()
    assert "Release 0.3.0." in readme
    assert "Work after 0.3.0." not in readme


@pytest.mark.tier3
def test_an_update_from_the_previous_release_runs_the_migrations_in_range(history: History, tmp_path: Path) -> None:
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    assert run_script(clone).returncode == 0
    service = tmp_path / "service"
    copy_service(clone, service, "--vcs-ref", "v0.2.0")
    assert recorded_commit(service) == "v0.2.0"

    checked = copier_cli(service, "check-update")
    assert checked.returncode == 0, checked.stderr
    assert "New template version available.\nCurrent version is 0.2.0, latest version is 0.3.0." in checked.stdout

    result = copier_cli(service, "update", "--trust", "--defaults")
    assert result.returncode == 0, result.stderr
    assert "Updating to template version 0.3.0" in result.stderr
    assert recorded_commit(service) == "v0.3.0"
    assert "Release 0.3.0." in (service / "README.md").read_text()
    assert (service / "migrated-to-0.3.0").read_text() == "0.2.0"
    assert not (service / "migrated-to-0.2.0").exists(), "0.2.0's migration is not in (0.2.0, 0.3.0]"
    assert "Project is up-to-date!" in copier_cli(service, "check-update").stdout


@pytest.mark.tier3
def test_a_service_copied_before_the_tags_moves_onto_the_release_line(history: History, tmp_path: Path) -> None:
    """Copied from main without tags (as every service before 0.2.0), then the tags arrive."""
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    git(clone, "switch", "--quiet", "--detach", history.commits["after-0.1.1"])
    service = tmp_path / "service"
    assert NO_TAGS in copy_service(clone, service).stderr
    git(clone, "switch", "--quiet", "main")
    assert history.commits["after-0.1.1"].startswith(recorded_commit(service))

    assert run_script(clone).returncode == 0
    checked = copier_cli(service, "check-update")
    assert checked.returncode == 0, checked.stderr
    assert re.search(
        rf"New template version available.\nCurrent version is {DEVELOPMENT_VERSION}, latest version is 0.3.0.",
        checked.stdout,
    ), checked.stdout

    result = copier_cli(service, "update", "--trust", "--defaults")
    assert result.returncode == 0, result.stderr
    assert NO_TAGS not in result.stderr
    assert recorded_commit(service) == "v0.3.0"
    readme = (service / "README.md").read_text()
    assert "Work after 0.1.1.\n\nRelease 0.2.0.\n\nRelease 0.3.0.\n" in readme
    assert re.fullmatch(DEVELOPMENT_VERSION, (service / "migrated-to-0.2.0").read_text())
    assert re.fullmatch(DEVELOPMENT_VERSION, (service / "migrated-to-0.3.0").read_text())


@pytest.mark.tier3
def test_tags_on_commits_older_than_a_copy_strand_it_until_the_next_release(history: History, tmp_path: Path) -> None:
    """Why 0.1.0 and 0.1.1 get no tags: a copy newer than the newest tag cannot update to it.

    Copied from main's newest commit without tags, then the tags land on older commits: Copier
    refuses the update as a downgrade and ``check-update`` sees nothing to do. The next release,
    on a later commit, is the way out.
    """
    clone = clone_of(history, tmp_path / "copier-litestar-ws")
    service = tmp_path / "service"
    copy_service(clone, service)
    assert run_script(clone).returncode == 0

    refused = copier_cli(service, "update", "--trust", "--defaults")
    assert refused.returncode != 0
    assert re.search(
        r"You are downgrading from 0\.3\.0\.post1\.dev0\+[0-9a-f]+ to 0\.3\.0\. Downgrades are not supported\.",
        refused.stderr,
    ), refused.stderr
    assert git(service, "status", "--porcelain") == ""
    checked = copier_cli(service, "check-update")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "Project is up-to-date!"

    note_in_readme(clone, "Release 0.3.1.")
    release_commit(clone, "0.3.1")
    assert run_script(clone).returncode == 0
    result = copier_cli(service, "update", "--trust", "--defaults")
    assert result.returncode == 0, result.stderr
    assert recorded_commit(service) == "v0.3.1"


RELEASE_WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


@pytest.mark.tier3
def test_the_release_workflow_pushes_the_tags_of_main(history: History, tmp_path: Path) -> None:
    """The workflow's steps, run as written in a full clone (what its checkout makes) of a bare origin."""
    workflow = load_workflow(RELEASE_WORKFLOW)
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "write"}
    (job,) = workflow["jobs"].values()
    checkout = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0, "the script needs main's whole history"
    commands = [step["run"] for step in job["steps"] if "run" in step]
    assert any("scripts/release_tags.py --check" in command for command in commands)

    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", "--no-tags", str(history.repo), str(origin))
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "--quiet", str(origin), str(runner))
    environment = {**os.environ, **IDENTITY, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for _ in range(2):  # the release's push to main, then any later push: nothing to add
        for command in commands:
            result = subprocess.run(
                ["bash", "-e", "-c", command], cwd=runner, env=environment, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
        assert tags_of(origin) == {"v0.2.0": history.commits["0.2.0"], "v0.3.0": history.commits["0.3.0"]}


def release_procedure() -> str:
    """The ``sh`` block of "Cutting a release" in docs/developing.md: the release commit's commands."""
    section = (ROOT / "docs" / "developing.md").read_text().split("\n## Cutting a release\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "no sh block in Cutting a release"
    return textwrap.dedent(match.group(1))


@pytest.mark.tier3
def test_the_documented_release_commit_is_one_the_script_tags(tmp_path: Path) -> None:
    """The procedure's lines, as written, on a clone of this working tree; only the version is the next one.

    The block names 0.2.0, the next release when it was written; once that is out the test uses
    the next patch release, so the block stays a recipe that works.
    """
    procedure = release_procedure()
    assert "\nversion=0.2.0\n" in procedure
    current = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    parsed = release_tags.release_version(current)
    assert parsed is not None
    release = "0.2.0" if parsed < release_tags.FIRST_TAGGED else f"{parsed[0]}.{parsed[1]}.{parsed[2] + 1}"
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    shutil.copytree(ROOT, work, ignore=NOT_TEMPLATE)
    git(work.parent, "init", "--quiet", "--initial-branch=main", str(work))
    commit_all(work, "main before the release")
    git(tmp_path, "clone", "--quiet", "--bare", str(work), str(origin))
    maintainer = tmp_path / "copier-litestar-ws"
    git(tmp_path, "clone", "--quiet", str(origin), str(maintainer))
    environment = {**os.environ, **IDENTITY, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("VIRTUAL_ENV", None)

    result = subprocess.run(
        ["bash", "-e", "-c", procedure.replace("\nversion=0.2.0\n", f"\nversion={release}\n")],
        cwd=maintainer,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the newest release is {release}." in result.stdout
    published = tmp_path / "published"
    git(tmp_path, "clone", "--quiet", str(origin), str(published))
    assert git(published, "show", "--stat", "--format=%s", "HEAD").split("\n")[0] == f"Release {release}"
    changed = set(git(published, "diff", "--name-only", "HEAD~1", "HEAD").split())
    assert changed == {"pyproject.toml", "CHANGELOG.md", "uv.lock"}
    headings = release_tags.changelog_headings((published / "CHANGELOG.md").read_text())
    assert headings[:2] == [release_tags.UNRELEASED, release]
    assert run_script(published).returncode == 0
    expected = {f"v{release}": git(published, "rev-parse", "HEAD").strip()}
    if release != "0.2.0":  # the clone's first commit already carries the current release
        expected[f"v{current}"] = git(published, "rev-parse", "HEAD~1").strip()
    assert tags_of(published) == expected
