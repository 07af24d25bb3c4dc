"""Recreate the release tags of copier-litestar-ws from the files on main, in any clone.

Only branch ``main`` of this repository is published, not its tags, so a release is a commit
on main, not a tag: the commit that makes ``version`` in ``pyproject.toml`` ``X.Y.Z`` (the same
commit renames the ``## Unreleased`` heading of ``CHANGELOG.md`` to ``## X.Y.Z``). Copier,
though, knows releases only as git tags: ``copier copy`` renders the newest tag and records it
as ``_commit``, and ``copier update`` moves a service between tags. This script derives the tags
from the files, so every clone can have the same ones::

    python scripts/release_tags.py            # tag every release reachable from HEAD
    python scripts/release_tags.py --dry-run  # only say what it would tag
    python scripts/release_tags.py --check    # only check the release rule on the working tree

For every release from :data:`FIRST_TAGGED` on, it creates the lightweight tag ``vX.Y.Z`` on the
first commit of ``HEAD``'s first-parent history (main's own commits, merges included, never a
side branch's) whose ``pyproject.toml`` says ``X.Y.Z`` while its first parent's does not. The
tags are lightweight on purpose: a tag is then nothing but the commit the files name, identical
in every clone, so the one the release workflow (``.github/workflows/release.yml``) pushes and
one a user recreates can never disagree. A tag that exists already is kept when it names that
commit; one that names another commit is reported and left alone (exit status 1): release tags
never move.

Why nothing before 0.2.0 is tagged: a tag must never land on a commit older than one users
could already have copied. Releases 0.1.0 and 0.1.1 were cut while the repository had no tags,
so services were copied from later commits with a bare commit as ``_commit``; once tags exist,
Copier gives such a copy the version of the newest tag before it plus a development suffix
(``0.1.1.post4.dev0+1a2b3c4``). Tags on the 0.1.0 and 0.1.1 commits would make every service
copied since newer than the newest release of a clone checked out before 0.2.0: Copier refuses
that update as a downgrade, and ``copier check-update`` says the project is up to date. 0.2.0 is
cut on main's newest commit, later than every copy made without tags, which therefore stay older
than it (``0.0.0.postN.dev0+<hash>``) and move onto the release line with a plain
``copier update``. From 0.2.0 on, the release workflow tags each release as it reaches main.

Needs the full history of ``main`` (a shallow clone is refused: ``git fetch --unshallow``).
Standard library and git only; Python 3.11 or newer (tomllib).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

FIRST_TAGGED = (0, 2, 0)
"""The oldest release that gets a tag; older ones stay untagged (see the module docstring)."""

RELEASE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
"""A release version: ``X.Y.Z``, nothing else (Copier skips pre-release tags unless asked)."""

UNRELEASED = "Unreleased"
"""The CHANGELOG heading of work not released yet; it may only be the first heading."""


class ReleaseError(Exception):
    """The release files or the tags disagree with the release rule; the message says how."""


def release_version(text: str) -> tuple[int, int, int] | None:
    """``X.Y.Z`` as a tuple of ints, or ``None`` when ``text`` is not such a version."""
    match = RELEASE.fullmatch(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def project_version(pyproject: str) -> str:
    """``project.version`` of a ``pyproject.toml``'s text.

    Raises:
        ReleaseError: the text is not TOML or has no ``project.version``.
    """
    try:
        version = tomllib.loads(pyproject)["project"]["version"]
    except (tomllib.TOMLDecodeError, KeyError) as error:
        raise ReleaseError(f"pyproject.toml has no readable project.version: {error}") from error
    return str(version)


def changelog_headings(changelog: str) -> list[str]:
    """The ``## `` headings of a CHANGELOG's text, top first."""
    return re.findall(r"^## (.+?)\s*$", changelog, re.MULTILINE)


def check_release_files(pyproject: str, changelog: str) -> str:
    """Check the release rule on the two files' texts; return the version they name.

    The rule: ``pyproject.toml``'s version is the newest released heading of ``CHANGELOG.md``;
    an ``## Unreleased`` heading may stand above it (work in progress) and nowhere else; every
    other heading is an ``X.Y.Z`` release, newest first, each once.

    Raises:
        ReleaseError: the files break the rule; the message names the disagreement.
    """
    version = project_version(pyproject)
    headings = changelog_headings(changelog)
    if headings[:1] == [UNRELEASED]:
        headings = headings[1:]
    if UNRELEASED in headings:
        raise ReleaseError(f"CHANGELOG.md: '## {UNRELEASED}' may only be the first heading")
    releases = []
    for heading in headings:
        parsed = release_version(heading)
        if parsed is None:
            raise ReleaseError(f"CHANGELOG.md: heading '## {heading}' is not a release (X.Y.Z) nor '{UNRELEASED}'")
        releases.append(parsed)
    if not releases:
        raise ReleaseError("CHANGELOG.md has no release heading (## X.Y.Z)")
    if releases != sorted(set(releases), reverse=True):
        raise ReleaseError(f"CHANGELOG.md: release headings are not newest first, each once: {headings}")
    if version != headings[0]:
        raise ReleaseError(
            f"pyproject.toml says version {version}, the newest release in CHANGELOG.md is {headings[0]}: "
            "a release commit changes both"
        )
    return version


def git(*args: str, stdin: str | None = None) -> str:
    """Run ``git args`` in the working directory and return its output.

    Raises:
        ReleaseError: git failed (its message is included).
    """
    result = subprocess.run(["git", *args], input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def versions_along(commits: list[str]) -> list[str | None]:
    """``pyproject.toml``'s version at each of ``commits`` (``None`` where it has none), in one git call.

    Raises:
        ReleaseError: git failed.
    """
    request = "".join(f"{commit}:pyproject.toml\n" for commit in commits).encode()
    result = subprocess.run(["git", "cat-file", "--batch"], input=request, capture_output=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"git cat-file --batch failed: {result.stderr.decode(errors='replace').strip()}")
    output, position = result.stdout, 0
    versions: list[str | None] = []
    for _ in commits:
        # Each answer is "<oid> blob <size>\n<content>\n", or "<object name> missing\n".
        header_end = output.index(b"\n", position)
        header = output[position:header_end].split()
        position = header_end + 1
        if header[-1] == b"missing":
            versions.append(None)
            continue
        size = int(header[2])
        body = output[position : position + size].decode(errors="replace")
        position += size + 1
        try:
            versions.append(project_version(body))
        except ReleaseError:
            versions.append(None)
    return versions


@dataclass(frozen=True)
class Release:
    """A release: its version ``X.Y.Z`` and the full hash of the commit that made it."""

    version: str
    commit: str

    @property
    def tag(self) -> str:
        """The release's git tag, ``vX.Y.Z``."""
        return f"v{self.version}"


def releases(ref: str = "HEAD") -> list[Release]:
    """Every release reachable from ``ref`` along first parents, oldest first, tagged or not.

    Raises:
        ReleaseError: the clone is shallow, or ``ref`` is not a commit.
    """
    if git("rev-parse", "--is-shallow-repository").strip() == "true":
        raise ReleaseError("this clone is shallow: `git fetch --unshallow` first, releases need the whole history")
    commits = git("rev-list", "--first-parent", "--reverse", ref).split()
    found: dict[str, Release] = {}
    previous: str | None = None
    for commit, version in zip(commits, versions_along(commits), strict=True):
        if version is not None and version != previous and version not in found and release_version(version):
            found[version] = Release(version, commit)
        previous = version
    return list(found.values())


def tagged(all_releases: list[Release]) -> list[Release]:
    """The releases that get a tag: :data:`FIRST_TAGGED` and later."""
    return [release for release in all_releases if (release_version(release.version) or (0, 0, 0)) >= FIRST_TAGGED]


def existing_tag(tag: str) -> str | None:
    """The commit ``tag`` names in this clone, or ``None`` when there is no such tag."""
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def main(argv: list[str]) -> int:
    """Tag the releases (or check the rule, or say what would be tagged); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--dry-run", action="store_true", help="say what would be tagged, tag nothing")
    parser.add_argument("--check", action="store_true", help="check pyproject.toml against CHANGELOG.md only")
    parser.add_argument("ref", nargs="?", default="HEAD", help="the commit whose history is tagged (HEAD)")
    options = parser.parse_args(argv)
    try:
        if options.check:
            version = check_release_files(Path("pyproject.toml").read_text(), Path("CHANGELOG.md").read_text())
            print(f"pyproject.toml and CHANGELOG.md agree: the newest release is {version}.")
            return 0
        found = releases(options.ref)
    except ReleaseError as error:
        print(f"release_tags: {error}", file=sys.stderr)
        return 1
    status = 0
    untagged = [release.version for release in found if release not in tagged(found)]
    if untagged:
        first = ".".join(map(str, FIRST_TAGGED))
        print(f"Not tagged, released before the first tagged release {first}: {', '.join(untagged)}.")
    chosen = tagged(found)
    if not chosen:
        print("No release to tag yet.")
    for release in chosen:
        current = existing_tag(release.tag)
        if current == release.commit:
            print(f"{release.tag} is already on {release.commit[:12]}.")
        elif current is not None:
            print(
                f"{release.tag} names {current[:12]}, but the release is {release.commit[:12]}: "
                f"release tags never move; left as it is (delete it with `git tag -d {release.tag}` to recreate it).",
                file=sys.stderr,
            )
            status = 1
        elif options.dry_run:
            print(f"Would tag {release.tag} on {release.commit[:12]}.")
        else:
            git("tag", release.tag, release.commit)
            print(f"Tagged {release.tag} on {release.commit[:12]}.")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
