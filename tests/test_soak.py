"""Soak: 10,000 connect/close-or-abort cycles against each style's service, started with its run command.

A leak per connection (a task, a registered connection, a file descriptor, a few kilobytes)
is invisible in a generated suite's few dozen connections and obvious after ten thousand. Each
style runs once (:data:`~tests.matrix.SOAK`), started by tests/harness.py; figures are printed
per thousand cycles (``-s`` shows them).
``SOAK_CYCLES`` changes the count (e.g. a quick local run).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from . import harness
from .matrix import SOAK, Variant
from .renders import service_env

T = TypeVar("T")

CYCLES = int(os.environ.get("SOAK_CYCLES", "10000"))
CONCURRENCY = 50
RSS_GROWTH_LIMIT_KIB = 8 * 1024
"""RSS may grow this much from the second thousand cycles to the last."""
FD_GROWTH_LIMIT = 5


class Cycle(WSListener):  # type: ignore[misc]
    """One connection of the soak: waits for its first frame, then closes cleanly or vanishes.

    picows (the benchmark's client, in Cython) rather than websockets: the soak measures the
    server, and a pure-Python client cost as much CPU as the server it drove.
    """

    def __init__(self) -> None:
        self.first: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT and not self.first.done():
            self.first.set_result(json.loads(frame.get_payload_as_utf8_text()))
        elif frame.msg_type == WSMsgType.CLOSE and not self.first.done():
            self.first.set_exception(AssertionError(f"closed with {frame.get_close_code()} before its first frame"))


async def one_cycle(url: str, duplex: bool, cycle: int) -> None:
    async with asyncio.timeout(10):
        transport, client = await ws_connect(Cycle, url, enable_auto_ping=False)
        if duplex:
            transport.send(WSMsgType.TEXT, json.dumps({"type": "join", "room": "soak"}).encode())
            assert (await client.first)["type"] == "joined"
        else:
            assert (await client.first)["type"] == "subscribed"
        if cycle % 2:
            transport.disconnect()  # the peer vanishes: no close frame
        else:
            transport.send_close(WSCloseCode.OK)
        await transport.wait_disconnected()


async def soak(service: harness.Running, variant: Variant) -> list[tuple[int, int, int]]:
    url = service.url("/ws" if variant.duplex else "/ws/rooms/soak")
    figures = []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def bounded(cycle: int) -> None:
        async with semaphore:
            await one_cycle(url, variant.duplex, cycle)

    for start in range(0, CYCLES, 1000):
        await asyncio.gather(*(bounded(cycle) for cycle in range(start, min(start + 1000, CYCLES))))
        figures.append((min(start + 1000, CYCLES), service.rss_kib(), service.open_fds()))
        style = variant.interface_style
        print(f"{style}: {figures[-1][0]:>6} cycles  RSS {figures[-1][1] / 1024:7.2f} MiB  fds {figures[-1][2]}")
    return figures


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end in a new event loop on a thread of its own.

    Not ``asyncio.run()`` here: the browser tests' Playwright (sync API) leaves an event loop
    running in this worker's main thread, where ``asyncio.run()`` refuses to start another.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.mark.tier3
@pytest.mark.variants(SOAK)
def test_ten_thousand_connect_cycles_leave_no_memory_fd_or_connection_behind(variant: Variant, project: Path) -> None:
    env = service_env(PYTHONPATH=str(project / "src"), WS_RATE_LIMIT_PER_S="0")
    # The generated project's run command, `python -m <package>`, in this environment.
    with harness.started(
        [sys.executable, "-m", variant.package_name], cwd=project, env=env, name=variant.id
    ) as service:
        started = time.monotonic()
        figures = run_in_own_loop(soak(service, variant))
        print(f"{variant.interface_style}: {CYCLES} cycles in {time.monotonic() - started:.1f} s")
        # Aborted peers are noticed by the server a moment later.
        service.wait_idle(timeout=10)
        logged = service.log_text()
    assert "Traceback" not in logged, logged[-4000:]
    # The first thousands warm up (allocator arenas, caches, lazily built routes): measure after.
    first, last = figures[min(1, len(figures) - 1)], figures[-1]
    assert last[1] - first[1] < RSS_GROWTH_LIMIT_KIB, f"RSS grew from {first[1]} to {last[1]} KiB"
    assert last[2] - first[2] <= FD_GROWTH_LIMIT, f"open fds grew from {first[2]} to {last[2]}"
