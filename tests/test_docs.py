"""The documentation: the site builds strictly, its examples run, the README's commands hold."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from litestar import Litestar
from litestar.testing import TestClient
from websockets.sync.client import connect

from . import harness
from .gitrepo import IDENTITY, NOT_TEMPLATE, commit_all, git
from .matrix import STYLES
from .releases import NO_TAGS, release_commit, release_tags
from .renders import ROOT

DOCS = ROOT / "docs"
STYLE_PAGE = DOCS / "interface-styles.md"

STYLE_API = {
    "low_level": ("rooms_socket", "@websocket("),
    "listener": ("rooms_listener", "@websocket_listener("),
    "class_based": ("RoomsListener", "(WebsocketListener):"),
    "stream": ("room_feed", "@websocket_stream("),
    "combined": ("rooms_socket", "send_websocket_stream("),
}
"""Per style: the handler its docs example defines, and the Litestar API both it and the variant use."""


def example_of(style: str) -> str:
    """The Python block under the ``### `style` `` heading of the interface styles page."""
    section = STYLE_PAGE.read_text().split(f"### `{style}`\n", 1)[1].split("\n#", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python example for {style}"
    return match.group(1)


def run_example(style: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run the style's example as a module (Litestar resolves annotations through ``sys.modules``)."""
    module = ModuleType(f"docs_example_{style}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(example_of(style), f"{STYLE_PAGE}:{style}", "exec"), module.__dict__)
    return module


@pytest.mark.tier1
def test_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (tmp_path / "site" / "updating" / "index.html").is_file()


@pytest.mark.tier1
def test_every_style_has_an_example_in_its_variants_api() -> None:
    assert set(STYLE_API) == set(STYLES)
    for style, (_, api) in STYLE_API.items():
        assert api in example_of(style), style
        assert api in (ROOT / "variants" / "router" / f"{style}.py.jinja").read_text(), style


@pytest.mark.tier1
@pytest.mark.parametrize("style", [style for style in STYLES if style != "stream"])
def test_duplex_examples_answer_a_ping(style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Litestar(route_handlers=[getattr(run_example(style, monkeypatch), STYLE_API[style][0])])
    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        socket.send_text(json.dumps({"type": "ping"}))
        assert json.loads(socket.receive_text(timeout=5)) == {"type": "pong"}


@pytest.mark.tier1
def test_stream_example_pushes_subscribed(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Litestar(route_handlers=[run_example("stream", monkeypatch).room_feed])
    with TestClient(app) as client, client.websocket_connect("/ws/rooms/lobby") as socket:
        assert json.loads(socket.receive_text(timeout=5)) == {"type": "subscribed", "room": "lobby"}


@pytest.mark.tier1
def test_readme_links_to_pages_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text())
    assert links, "the README links to the docs"
    assert [link for link in links if not (ROOT / link).is_file()] == []


USER_FLOWS = {
    "README.md": ["Quick start"],
    "docs/getting-started.md": ["Render a service and run it", "Test the service", "Update the service"],
}
"""Per page, the sections whose ``sh`` blocks are, in order, what a new user runs."""

INSTALL = "python -m pip install copier uv"
RUN = "uv run rooms_service"
UPDATE = "copier update --trust --defaults"
TAGS = "python scripts/release_tags.py"
PULL = "git pull"
NEXT_RELEASE = "\n## Support\n\nAsk in the team's chat.\n"


def user_commands(page: str) -> list[str]:
    """The shell commands of ``page``'s user flow, one per line (``&&`` chains split), in order."""
    text = (ROOT / page).read_text()
    commands = []
    for heading in USER_FLOWS[page]:
        section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
            for line in block.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    commands += line.split(" && ")
    return commands


def distinct_flows() -> list[list[str]]:
    """The pages of :data:`USER_FLOWS`, grouped by the commands they show: pages that show the same
    commands in the same order share one run (running them again would repeat the same steps)."""
    flows: dict[tuple[str, ...], list[str]] = {}
    for page in sorted(USER_FLOWS):
        flows.setdefault(tuple(user_commands(page)), []).append(page)
    return list(flows.values())


def serve_ping_and_stop(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Start the service with ``command`` (plus ``--port``, as 8000 may be taken), ping it, stop it with Ctrl+C."""
    # The first `uv run` installs the service's environment; Ctrl+C reaches uv and the server (a group).
    service = harness.start(
        ["bash", "-c", f'exec {command} "$@"', command], cwd=cwd, env=env, name=command, group=True, timeout=300
    )
    try:
        with connect(service.url("/ws"), open_timeout=10) as client:
            client.send(json.dumps({"type": "ping", "id": "quick-start"}))
            assert json.loads(client.recv(timeout=10)) == {"type": "pong", "id": "quick-start"}
        code = service.stop(timeout=60)
        output = service.log_text()
    finally:
        service.stop()
        service.log.unlink(missing_ok=True)
    # Ctrl+C: uvicorn shuts down cleanly; uv then exits 130 (128 + SIGINT), as shells expect.
    assert code in (0, 130), output
    assert "Finished server process" in output, output


def expected_copy(clone: Path) -> tuple[str, bool]:
    """What ``copier copy`` records as ``_commit`` in ``clone`` after the tag script, and whether Copier warns.

    A release from 0.2.0 on is tagged, so its tag; before the first tagged release there is no
    tag, so the abbreviated commit, with Copier's "No git tags found" warning. The pages say both.
    """
    version = tomllib.loads((clone / "pyproject.toml").read_text())["project"]["version"]
    if release_tags.release_version(version) >= release_tags.FIRST_TAGGED:
        return f"v{version}", False
    return git(clone, "describe", "--tags", "--always").strip(), True


def next_release(clone: Path) -> str:
    """The version of the next release after ``clone``'s: 0.2.0 (the first tagged) or the next patch."""
    major, minor, patch = release_tags.release_version(
        tomllib.loads((clone / "pyproject.toml").read_text())["project"]["version"]
    )
    if (major, minor, patch) < release_tags.FIRST_TAGGED:
        return ".".join(map(str, release_tags.FIRST_TAGGED))
    return f"{major}.{minor}.{patch + 1}"


@pytest.mark.tier3
@pytest.mark.parametrize("pages", [pytest.param(pages, id="+".join(pages)) for pages in distinct_flows()])
def test_a_new_users_commands_run_verbatim_from_copy_to_the_first_update(tmp_path: Path, pages: list[str]) -> None:
    """Every command the pages show a user, as written, in a fresh clone of main (which has no tags).

    Pages that show the same commands share one run (:func:`distinct_flows`);
    what each page says about tags is checked on every page.

    Recreate the tags, copy (the copy task commits the lock file), run (start, get a pong,
    Ctrl+C), test, then the first ``copier update`` once main has a next release: ``git pull``
    fetches it from the clone's origin, the tag script tags it. The install command is checked,
    not run: this environment already has Copier and uv.
    """
    origin = tmp_path / "origin" / "copier-litestar-ws"
    shutil.copytree(ROOT, origin, ignore=NOT_TEMPLATE)
    git(origin.parent, "init", "--quiet", "--initial-branch=main", str(origin))
    commit_all(origin, "main as published")
    clone = tmp_path / "copier-litestar-ws"
    git(tmp_path, "clone", "--quiet", str(origin), str(clone))
    env = {
        **{name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV" and not name.startswith("WS_")},
        **IDENTITY,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    commands = user_commands(pages[0])
    assert commands[0] == INSTALL
    assert RUN in commands
    assert commands[-1] == UPDATE
    assert commands.count(TAGS) == 2, "before the copy, and after pulling the next release"
    for page in pages:
        text = (ROOT / page).read_text()
        assert NO_TAGS in text, f"{page} says what happens without tags"
        assert "_commit: v0.2.0" in text, f"{page} says what happens with them"
    release = next_release(clone)
    cwd = clone
    for command in commands[1:]:
        if command.startswith("cd "):
            cwd = (cwd / command.removeprefix("cd ")).resolve()
            continue
        if command == RUN:
            serve_ping_and_stop(command, cwd, env)
            continue
        if command == PULL:
            with (origin / "template" / "README.md.jinja").open("a") as readme:
                readme.write(NEXT_RELEASE)
            release_commit(origin, release)
        result = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        if command.startswith("copier copy "):
            service = tmp_path / "rooms-service"
            answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
            recorded, warned = expected_copy(clone)
            assert (answers["_commit"], answers["_src_path"]) == (recorded, str(clone))
            assert (NO_TAGS in result.stderr) == warned, result.stderr
            assert git(service, "status", "--porcelain") == ""
    answers = yaml.safe_load((cwd / ".copier-answers.yml").read_text())
    assert answers["_commit"] == f"v{release}"
    assert NEXT_RELEASE in (cwd / "README.md").read_text()
    assert git(cwd, "status", "--porcelain") == " M .copier-answers.yml\n M README.md\n"
