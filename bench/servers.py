"""Rendering the variants and starting servers: one fresh process per run, pinned to its own core."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import copier

ROOT = Path(__file__).resolve().parent.parent
"""The template repository."""

PACKAGE = "rooms_service"

BENCH_ENV = {"WS_RATE_LIMIT_PER_S": "0", "WS_MAX_CONNECTIONS": "5000"}
"""Settings for every rendered server: the rate limit (20 frames/s by default) is off, or closed-loop
pings would measure ``rate_limited`` errors, and the connection cap (1,000 by default, answered
with 503) is above the 1,000 members plus publisher of the full fan-out. Everything else keeps
the contract's defaults."""


class BenchError(Exception):
    """A server misbehaved or a correctness check failed: the figures of that run mean nothing."""


@dataclass(frozen=True)
class Server:
    """How to start one kind of server: a rendered variant or a reference."""

    name: str
    command: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    kind: str
    """``"echo"`` or ``"room"`` (references), ``"duplex"`` (rendered services) or ``"stream"`` (the
    rendered stream variant and the raw stream reference)."""


def render(destination: Path, style: str, vcs_ref: str) -> Path:
    """Render ``style`` (text mode, no auth, memory broker) at ``vcs_ref`` into ``destination``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=copier.errors.DirtyLocalWarning)
        copier.run_copy(
            str(ROOT),
            destination,
            data={"interface_style": style, "transport_mode": "text", "auth": "none", "broker": "memory"},
            defaults=True,
            vcs_ref=vcs_ref,
            quiet=True,
            skip_tasks=True,
            unsafe=False,
        )
    return destination


def variant(project: Path, style: str, label: str) -> Server:
    """The rendered ``project`` started the way its run command does (``python -m rooms_service``)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("WS_")}
    env.update(BENCH_ENV, PYTHONPATH=str(project / "src"))
    return Server(
        name=label,
        command=(sys.executable, "-m", PACKAGE),
        cwd=project,
        env=env,
        kind="stream" if style == "stream" else "duplex",
    )


def reference(kind: str) -> Server:
    """A reference server of ``bench/reference.py``: ``"echo"``, ``"room"`` or ``"stream"``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return Server(
        name={"echo": "raw-echo", "room": "sequential", "stream": "raw-stream"}[kind],
        command=(sys.executable, "-m", "bench.reference", kind),
        cwd=ROOT,
        env=env,
        kind=kind,
    )


def cores() -> tuple[set[int] | None, set[int] | None]:
    """(client cores, server cores): two disjoint sets when this process may use two CPUs or more."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def health(port: int) -> dict[str, object]:
    """``GET /health`` of the server on ``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        body: dict[str, object] = json.load(response)
        return body


@dataclass
class Running:
    """A started server: its pid (for /proc figures) and port."""

    server: Server
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_s(self) -> float:
        """CPU seconds the server process has used, all threads, user and system.

        Read from the process's CPU-time clock (Linux ``clock_getcpuclockid``: clock id
        ``~pid << 3 | CPUCLOCK_SCHED``, nanoseconds); where that fails, the clock ticks (10 ms)
        of ``/proc/<pid>/stat``' utime and stime, too coarse for a quick run.
        """
        try:
            return time.clock_gettime((~self.pid << 3) | 2)
        except OSError:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        """Resident set size in KiB (``VmRSS`` of ``/proc/<pid>/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise BenchError(f"{self.server.name}: no VmRSS in /proc/{self.pid}/status")

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait for ``/health`` to count no connection and no room; raise :class:`BenchError` if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            body = health(self.port)
            if body.get("connections") == 0 and body.get("rooms") == 0:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.server.name}: /health still reports {body} {timeout:g} s after the run")
            time.sleep(0.05)


@contextlib.contextmanager
def started(server: Server, server_cores: set[int] | None, timeout: float = 30) -> Iterator[Running]:
    """Start a fresh ``server`` process, wait until ``/health`` answers, and stop it on exit (SIGINT)."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"bench-{server.name}-", suffix=".log")[1])
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*server.command, "--port", str(port)], cwd=server.cwd, env=server.env, stdout=output, stderr=output
        )
    running = Running(server, process, port, log)
    try:
        if server_cores is not None:
            os.sched_setaffinity(process.pid, server_cores)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"{server.name} exited with {process.returncode}:\n{running.log_tail()}")
            try:
                health(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{server.name} did not answer /health within {timeout:g} s") from None
                time.sleep(0.05)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.unlink(missing_ok=True)
