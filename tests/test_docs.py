"""The documentation: the site builds strictly, its examples run, the README's commands hold."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from .conftest import ROOT, STYLES
from .test_update import NOT_TEMPLATE, commit_all, git

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


def readme_command(opening: str) -> str:
    """The README's shell command that starts with ``opening``."""
    commands = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)
    return next(command for command in commands if command.startswith(opening))


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


def test_every_style_has_an_example_in_its_variants_api() -> None:
    assert set(STYLE_API) == set(STYLES)
    for style, (_, api) in STYLE_API.items():
        assert api in example_of(style), style
        assert api in (ROOT / "variants" / "router" / f"{style}.py.jinja").read_text(), style


@pytest.mark.parametrize("style", [style for style in STYLES if style != "stream"])
def test_duplex_examples_answer_a_ping(style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Litestar(route_handlers=[getattr(run_example(style, monkeypatch), STYLE_API[style][0])])
    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        socket.send_text(json.dumps({"type": "ping"}))
        assert json.loads(socket.receive_text(timeout=5)) == {"type": "pong"}


def test_stream_example_pushes_subscribed(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Litestar(route_handlers=[run_example("stream", monkeypatch).room_feed])
    with TestClient(app) as client, client.websocket_connect("/ws/rooms/lobby") as socket:
        assert json.loads(socket.receive_text(timeout=5)) == {"type": "subscribed", "room": "lobby"}


def test_readme_links_to_pages_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text())
    assert links, "the README links to the docs"
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_readme_quick_start_renders_a_committed_service_from_a_fresh_clone(tmp_path: Path) -> None:
    """The README's first command, up to ``uv run``, in a fresh copy of this repository."""
    clone = tmp_path / "copier-litestar-ws"
    shutil.copytree(ROOT, clone, ignore=NOT_TEMPLATE)
    git(clone, "init", "--quiet")
    commit_all(clone, "A fresh clone")
    command = readme_command("python -m pip install copier uv && ")
    install, copy, change_directory, run = command.split(" && ")
    assert (install, change_directory, run) == (
        "python -m pip install copier uv",
        "cd ../rooms-service",
        "uv run rooms_service",
    )
    result = subprocess.run(
        [sys.executable, "-m", *copy.split()], cwd=clone, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    service = tmp_path / "rooms-service"
    assert (service / "src" / "rooms_service" / "__main__.py").is_file()
    assert git(service, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(service, "status", "--porcelain") == ""

    # docs/updating.md: a service copied from "." updates once _src_path names the template.
    answers = service / ".copier-answers.yml"
    assert "_src_path: .\n" in answers.read_text()
    answers.write_text(answers.read_text().replace("_src_path: .\n", f"_src_path: {clone}\n"))
    commit_all(service, "Record where the template is")
    update = [sys.executable, "-m", "copier", "update", "--trust", "--defaults"]
    result = subprocess.run(update, cwd=service, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
