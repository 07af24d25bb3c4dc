"""Soak: 10,000 connect/close-or-abort cycles against each style's service, started with its run command.

A leak per connection (a task, a registered connection, a file descriptor, a few kilobytes)
is invisible in a generated suite's few dozen connections and obvious after ten thousand. Each
style runs in the xdist group of its default variant; figures are printed per thousand cycles (``-s`` shows them).
``SOAK_CYCLES`` changes the count (e.g. a quick local run).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from websockets.asyncio.client import connect

from .conftest import STYLES, Render, service_env

T = TypeVar("T")

CYCLES = int(os.environ.get("SOAK_CYCLES", "10000"))
CONCURRENCY = 50
RSS_GROWTH_LIMIT_KIB = 8 * 1024
"""RSS may grow this much from the second thousand cycles to the last."""
FD_GROWTH_LIMIT = 5
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            assert process.poll() is None, f"the service exited with {process.returncode}"
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not answer /health in time"
            await asyncio.sleep(0.1)  # polling a starting process: there is no event to wait on


async def one_cycle(url: str, style: str, cycle: int) -> None:
    async with asyncio.timeout(10):
        ws = await connect(url, compression=None)
        if style == "stream":
            assert json.loads(await ws.recv())["type"] == "subscribed"
        else:
            await ws.send(json.dumps({"type": "join", "room": "soak"}))
            assert json.loads(await ws.recv())["type"] == "joined"
        if cycle % 2:
            ws.transport.abort()  # the peer vanishes: no close frame, no FIN
            await ws.wait_closed()
        else:
            await ws.close()


async def soak(port: int, style: str, pid: int) -> list[tuple[int, int, int]]:
    base = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}" + ("/ws/rooms/soak" if style == "stream" else "/ws")
    figures = []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def bounded(cycle: int) -> None:
        async with semaphore:
            await one_cycle(url, style, cycle)

    for start in range(0, CYCLES, 1000):
        await asyncio.gather(*(bounded(cycle) for cycle in range(start, min(start + 1000, CYCLES))))
        figures.append((min(start + 1000, CYCLES), rss_kib(pid), open_fds(pid)))
        print(f"{style}: {figures[-1][0]:>6} cycles  RSS {figures[-1][1] / 1024:7.2f} MiB  fds {figures[-1][2]}")
    async with httpx.AsyncClient(base_url=base) as http:
        deadline = time.monotonic() + 10
        while (health := (await http.get("/health")).json())["connections"] or health["rooms"]:
            # Aborted peers are noticed by the server a moment later; poll /health, bounded.
            assert time.monotonic() < deadline, f"/health still counts {health} after the soak"
            await asyncio.sleep(0.1)
    return figures


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end in a new event loop on a thread of its own.

    Not ``asyncio.run()`` here: the browser tests' Playwright (sync API) leaves an event loop
    running in this worker's main thread, where ``asyncio.run()`` refuses to start another.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.mark.parametrize(
    "style",
    # The group of the style's default variant in test_variants.py: one worker renders it once.
    [pytest.param(style, id=style, marks=pytest.mark.xdist_group(f"{style}-text-none-memory")) for style in STYLES],
)
def test_ten_thousand_connect_cycles_leave_no_memory_fd_or_connection_behind(
    rendered: Render, style: str, tmp_path: Path
) -> None:
    project = rendered(interface_style=style)
    port = free_port()
    env = service_env() | {"PYTHONPATH": str(project / "src"), "WS_RATE_LIMIT_PER_S": "0"}
    log = tmp_path / "service.log"  # a file, not a pipe: uvicorn logs every connection
    with log.open("w") as output:
        # The generated project's run command, `python -m rooms_service`, in this environment.
        process = subprocess.Popen(
            [sys.executable, "-m", "rooms_service", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            run_in_own_loop(wait_healthy(f"http://127.0.0.1:{port}", process))
            started = time.monotonic()
            figures = run_in_own_loop(soak(port, style, process.pid))
            print(f"{style}: {CYCLES} cycles in {time.monotonic() - started:.1f} s")
        finally:
            process.terminate()
            process.wait(timeout=30)
    logged = log.read_text()
    assert "Traceback" not in logged, logged[-4000:]
    # The first thousands warm up (allocator arenas, caches, lazily built routes): measure after.
    first, last = figures[min(1, len(figures) - 1)], figures[-1]
    assert last[1] - first[1] < RSS_GROWTH_LIMIT_KIB, f"RSS grew from {first[1]} to {last[1]} KiB"
    assert last[2] - first[2] <= FD_GROWTH_LIMIT, f"open fds grew from {first[2]} to {last[2]}"
