"""The benchmark (bench/): its quick mode runs end to end, and its correctness checks fail loudly."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from unittest import mock

import pytest
import uvloop

from bench import resume, workloads
from bench.servers import BenchError, Contract, reference, started, variant

from .harness import ServiceError
from .matrix import Variant
from .renders import ROOT, Renders

pytestmark = pytest.mark.tier3

DUPLEX_STYLES = ("low_level", "listener", "class_based", "combined")

T = TypeVar("T")


def in_own_thread(run: Callable[[Coroutine[Any, Any, T]], T], coroutine: Coroutine[Any, Any, T]) -> T:
    """``run(coroutine)`` on a thread of its own: where the browser tests ran first, Playwright's
    sync API leaves an event loop running in this worker's main thread, and ``asyncio.run`` refuses
    to start another there."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(run, coroutine).result()


def readme_bench_command() -> str:
    """The README's command for the quick benchmark run."""
    commands = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)
    return next(command for command in commands if command.startswith("uv run python -m bench --quick"))


@pytest.mark.xdist_group("bench")
def test_quick_benchmark_measures_every_style_and_checks_what_it_measures() -> None:
    command = readme_bench_command()
    result = subprocess.run(
        [sys.executable, *command.removeprefix("uv run python").split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sections = dict(re.findall(r"^## (\S+(?: by \S+)?)[^\n]*\n(.*?)(?=^## |\Z)", result.stdout, re.DOTALL | re.M))
    assert set(sections) == {"echo:", "fan-out by say:", "fan-out by POST:", "idle:"}, result.stdout
    for name, styles in (
        ("echo:", DUPLEX_STYLES),
        ("fan-out by say:", DUPLEX_STYLES),
        ("fan-out by POST:", (*DUPLEX_STYLES, "stream")),
        ("idle:", (*DUPLEX_STYLES, "stream")),
    ):
        for style in styles:
            assert re.search(rf"^  {style}: \w+ \d+\.\d+x \(", sections[name], re.M), (name, style, result.stdout)
    for name in ("fan-out by say:", "fan-out by POST:"):
        # server, p50, p99, max, cpu, then delivered, expected and order violations summed over the rounds.
        rows = re.findall(r"^(\S+)\s+(?:\S+\s+){4}(\d+)\s+(\d+)\s+(\d+)\s*$", sections[name], re.M)
        assert len(rows) == len(re.findall(r"^  \S+: ", sections[name], re.M)) + 1, sections[name]
        for server, delivered, expected, violations in rows:
            assert delivered == expected != "0", (name, server)
            assert violations == "0", (name, server)


def test_a_reply_that_does_not_match_its_ping_fails_the_run() -> None:
    # The raw echo sends the ping back: a client expecting a pong must refuse it.
    server = dataclasses.replace(reference("echo"), kind="duplex")
    with started(server, None) as running, pytest.raises(BenchError, match="does not match the ping"):
        in_own_thread(uvloop.run, workloads.cleanly(workloads.echo(running, clients=2, round_trips=5, warmup=1)))


def test_a_duplicate_or_early_delivery_is_a_violation() -> None:
    async def check() -> None:
        deliveries = workloads.Deliveries(members=1)
        assert deliveries.received(0, 0, 1) == "message 0 arrived before it was published"
        arrived = deliveries.published(0)
        assert deliveries.received(0, 0, 1) is None
        assert arrived.done()
        assert deliveries.received(0, 0, 1) == "message 0 delivered more than once to a member"

    in_own_thread(asyncio.run, check())


def test_a_join_reply_is_checked_against_the_contract_of_its_server() -> None:
    joined = {"type": "joined", "room": "bench", "members": 2, "epoch": "e1", "seq": 0}
    current, old = Contract(resume=True, presence=True), Contract()
    assert current.check_join(joined, "bench", members=2) is None
    assert old.check_join({"type": "joined", "room": "bench", "members": 1}, "bench", members=2) is None
    for wrong in (
        {"type": "joined", "room": "bench", "members": 1},  # no position: the contract before resume
        {**joined, "recovered": True},  # a plain join never says recovered
        {**joined, "epoch": ""},
        {**joined, "seq": -1},
        {**joined, "members": 3},
        {**joined, "room": "other"},
        {"type": "member_joined", "room": "bench", "sender": "x"},
    ):
        assert current.check_join(wrong, "bench", members=2) is not None, wrong
    assert (
        current.check_join({"type": "subscribed", "room": "bench", "epoch": "e1", "seq": 4}, "bench", members=1) is None
    )


def test_one_member_joined_too_many_is_a_violation() -> None:
    async def check() -> None:
        roster = workloads.Roster(Contract(presence=True), 3)  # the second joiner to the first, the third to both
        assert roster.owed == 3
        assert [roster.heard_join() for _ in range(3)] == [None, None, None]
        assert roster.complete.done()
        assert roster.heard_join() == "member_joined number 4, 3 owed for 3 joins"

    in_own_thread(asyncio.run, check())


def test_health_not_back_to_zero_fails_the_run() -> None:
    async def leave_one_open(running: workloads.Running) -> None:
        clients = await workloads.connect(workloads.Idle, running.url("/ws"), 2)
        await clients[0].close()
        await asyncio.to_thread(running.wait_idle, 0.5)

    with started(reference("echo"), None) as running, pytest.raises(ServiceError, match="/health still reports"):
        in_own_thread(uvloop.run, workloads.cleanly(leave_one_open(running)))


@pytest.mark.xdist_group("bench")
@pytest.mark.parametrize("lose_one", [False, True], ids=["resumes", "a-lost-message-fails"])
def test_the_reconnect_storm_resumes_every_member_without_a_gap(lose_one: bool) -> None:
    # bench.resume's storm: 20 members drop, 5 messages, they come back with since/epoch amid 3 more.
    # Dropping one replayed message at one client must fail the run: the bench checks what it measures.
    class Lossy(resume.Rejoiner):
        lost = False

        def on_text(self, text: str) -> None:
            if not Lossy.lost and json.loads(text).get("seq") == self.since + 2:
                Lossy.lost = True
                return
            super().on_text(text)

    project = Renders()(Variant(interface_style="low_level"))
    server = variant(project, "low_level", "history-on")
    with started(server, None) as running, contextlib.ExitStack() as stack:
        if lose_one:
            stack.enter_context(mock.patch.object(resume, "Rejoiner", Lossy))
            stack.enter_context(pytest.raises(BenchError, match="missing or doubled"))
        figures = in_own_thread(uvloop.run, workloads.cleanly(resume.storm(running, 20, 5, 3)))
        assert figures.gaps == 0
        assert figures.replayed >= 20 * 5
        assert figures.presence_frames == 20 * 19 // 2
