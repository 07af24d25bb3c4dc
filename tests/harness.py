"""Start and stop a server process the way its run command does: the one harness of tests/ and bench/.

A server gets a free loopback port (or the port it had, for a restart), its output goes to a log
file (a file, not a pipe: a server that logs every connection must never block on its log), and
it counts as started once ``GET /health`` answers 200. A server that exits or stays unhealthy
raises :class:`ServiceError` with the tail of its log. It is stopped as an operator's Ctrl+C
stops it (SIGINT, then SIGKILL if it has not exited within the timeout).

Also here: :func:`free_port` and :func:`redis_server`, a throwaway ``redis-server`` for the
renders with ``broker=redis``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ServiceError(Exception):
    """A server did not start, exited early, or did not reach the state it was waited for."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Running:
    """A started server process listening on 127.0.0.1:``port``, its output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    group: bool = False
    """Whether the server leads a process group of its own (then signals go to the whole group:
    ``uv run`` starts the server as its child)."""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def http(self) -> str:
        """The base URL of the server's HTTP routes."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The WebSocket URL of ``path``."""
        return f"ws://127.0.0.1:{self.port}{path}"

    def health(self) -> dict[str, object]:
        """``GET /health``'s JSON body.

        Raises:
            OSError: the server did not answer, or answered another status than 200
                (``urllib.error.HTTPError``).
        """
        with urllib.request.urlopen(f"{self.http}/health", timeout=5) as response:
            body: dict[str, object] = json.load(response)
            return body

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until ``/health`` answers 200.

        Raises:
            ServiceError: the server exited, or was not healthy within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.health()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"{self.name} did not answer /health within {timeout:g} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.05)  # polling a starting process: there is no event to wait on

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait until ``/health`` counts no connection and no room.

        Raises:
            ServiceError: it still counted some after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            body = self.health()
            if body.get("connections") == 0 and body.get("rooms") == 0:
                return
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name}: /health still reports {body} {timeout:g} s after the run")
            time.sleep(0.05)  # aborted peers are noticed a moment later; nothing to wait on but /health

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
        raise ServiceError(f"{self.name}: no VmRSS in /proc/{self.pid}/status")

    def open_fds(self) -> int:
        """How many file descriptors the server process holds open."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Stop as Ctrl+C does (SIGINT), then SIGKILL after ``timeout`` seconds; the exit code.

        Returns at once with the exit code when the server has already exited.
        """
        if self.process.poll() is None:
            self._signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.group:
                os.killpg(self.process.pid, number)
            else:
                self.process.send_signal(number)


def start(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    name: str | None = None,
    port: int | None = None,
    cores: set[int] | None = None,
    group: bool = False,
    timeout: float = START_TIMEOUT_S,
) -> Running:
    """Run ``command --port PORT`` in ``cwd`` and wait until it is healthy; the caller stops it.

    Args:
        command: the server's run command, without ``--port``.
        cwd: its working directory.
        env: its whole environment.
        name: what errors call it (default: the command's last word).
        port: the port to listen on (default: a free one); a restart passes the old one.
        cores: CPUs to pin the server to (``sched_setaffinity``), or ``None``.
        group: start it as the leader of a new process group and signal the whole group.
        timeout: seconds to wait for ``/health``.

    Raises:
        ServiceError: it exited or stayed unhealthy; the server is stopped first.
    """
    port = free_port() if port is None else port
    name = name or command[-1]
    handle, log_name = tempfile.mkstemp(prefix=f"server-{Path(name).name}-", suffix=".log")
    with os.fdopen(handle, "wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )
    running = Running(name, process, port, Path(log_name), group)
    try:
        if cores is not None:
            os.sched_setaffinity(process.pid, cores)
        running.wait_healthy(timeout)
    except BaseException:
        running.stop()
        running.log.unlink(missing_ok=True)
        raise
    return running


@contextlib.contextmanager
def started(command: Sequence[str], **options: object) -> Iterator[Running]:
    """:func:`start` ``command`` (same options); stop it and remove its log on exit."""
    running = start(command, **options)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()
        running.log.unlink(missing_ok=True)


@dataclass
class RedisServer:
    """A ``redis-server`` on a loopback port, without persistence."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A throwaway ``redis-server`` on a free loopback port, stopped on exit.

    Raises:
        ServiceError: redis-server is not installed (Debian: ``apt-get install redis-server``;
            ``.ci/run`` installs it), or did not start.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            raise ServiceError(f"redis-server did not start (exit code {process.wait()})")
        yield RedisServer(process, port)
    finally:
        process.terminate()
        process.wait(STOP_TIMEOUT_S)
        process.stdout.close()
