"""The per-layer cost table (bench/layers.py): its quick mode runs end to end, its harness checks its replies."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

from bench import noop
from bench.reference import UVICORN_OPTIONS, build_app
from bench.servers import BenchError

from .conftest import ROOT

pytestmark = pytest.mark.tier3

DUPLEX_STYLES = ("low_level", "listener", "class_based", "combined")
LAYERS = (
    "frame checks (kind, size)",
    "receive wrapper (whole)",
    "rate limit",
    "parse",
    "handle",
    "encode",
    "metrics (frames received)",
    "outbox, writer wake-up and task switch",
)
NUMBER = r"-?\d+\.\d+"


def documented_command() -> str:
    """The command docs/developing.md gives for the quick layer table."""
    commands = re.findall(r"```sh\n(.*?)\n```", (ROOT / "docs" / "developing.md").read_text(), re.DOTALL)
    return next(command for command in commands if command.startswith("uv run python -m bench.layers --quick"))


def table(output: str, title: str) -> dict[str, list[str]]:
    """The rows of the table whose title starts with ``title``: first cell -> the other cells."""
    found = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", output, re.DOTALL | re.M)
    assert found is not None, (title, output)
    rows = {}
    for line in found.group(1).splitlines():
        if line.strip():
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.xdist_group("bench")
def test_quick_layer_table_has_every_layer_of_every_style() -> None:
    command = documented_command()
    result = subprocess.run(
        [sys.executable, *command.removeprefix("uv run python").split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    echo = table(out, "echo round trip")
    header = out.split("## echo round trip", 1)[1].splitlines()[1].split()
    assert header == list(DUPLEX_STYLES), out
    for row in ("raw Litestar echo (whole)", "service (whole)", *LAYERS):
        cells = echo[row]
        assert len(cells) == len(DUPLEX_STYLES), (row, out)
        assert all(re.fullmatch(NUMBER, cell) for cell in cells), (row, out)
    assert all(re.fullmatch(r"\d+\.\d+x", cell) for cell in echo["ratio to raw echo"]), out
    for by, styles in (("say", DUPLEX_STYLES), ("POST", (*DUPLEX_STYLES, "stream"))):
        fanout = table(out, f"one fan-out delivery by {by}")
        for row in ("sequential room (whole)", "service (whole)", "outbox, writer wake-up and task switch"):
            assert len(fanout[row]) == len(styles), (by, row, out)
            assert all(re.fullmatch(NUMBER, cell) for cell in fanout[row]), (by, row, out)
    idle = table(out, "idle joined connection")
    for server in ("raw-echo", "sequential", *DUPLEX_STYLES, "stream"):
        assert re.fullmatch(NUMBER, idle[server][0]), (server, out)
    assert "n/a" not in out, out


def test_a_reply_that_does_not_match_fails_the_in_process_run() -> None:
    # The raw echo sends the ping back: clients expecting a service's pong must refuse it.
    async def run() -> None:
        served = noop.Served(build_app("echo"), dict(UVICORN_OPTIONS))
        await served.start()
        try:
            clients = await noop.connect(served, "/ws", 2)
            await noop.Echoes(served, clients, noop.PONG).run(3)
        finally:
            await served.stop()

    with pytest.raises(BenchError, match="does not match the ping"):
        asyncio.run(run())


def test_a_room_message_out_of_order_fails_the_in_process_run() -> None:
    async def run() -> None:
        served = noop.Served(build_app("room"), dict(UVICORN_OPTIONS))
        await served.start()
        try:
            members = await noop.join(served, 2, stream=False)
            room = noop.Room(served, members, lambda: None)
            members[0].on_frame(b'{"type":"message","seq":1}')
            members[0].on_frame(b'{"type":"message","seq":3}')
            await room.run(1)
        finally:
            await served.stop()

    with pytest.raises(BenchError, match="seq 3 after 1"):
        asyncio.run(run())
