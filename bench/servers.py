"""Rendering the variants and starting servers: one fresh process per run, pinned to its own core.

Servers are started and stopped by the template tests' harness (tests/harness.py: a free port,
``/health`` before the first client, the log's tail on failure, SIGINT then SIGKILL); renders of
the working tree come from the tests' render cache (tests/renders.py), renders of another git
ref from ``copier copy``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier

from tests import harness
from tests.harness import ServiceError
from tests.matrix import Variant
from tests.renders import ROOT, Renders

PACKAGE = Variant().package_name

BENCH_ENV = {"WS_RATE_LIMIT_PER_S": "0", "WS_MAX_CONNECTIONS": "5000"}
"""Settings for every rendered server: the rate limit (20 frames/s by default) is off, or closed-loop
pings would measure ``rate_limited`` errors, and the connection cap (1,000 by default, answered
with 503) is above the 1,000 members plus publisher of the full fan-out. Everything else keeps
the contract's defaults."""


class BenchError(ServiceError):
    """A server misbehaved or a correctness check failed: the figures of that run mean nothing."""


@dataclass(frozen=True)
class Contract:
    """What a server's join adds to the frames every version of the contract has.

    The references speak the old subset; a render at an older git ref (``--ref``) may too.
    """

    resume: bool = False
    """``joined`` / ``subscribed`` (and a ``POST``'s answer) carry the room's ``epoch`` and ``seq``."""
    presence: bool = False
    """A join makes the other members of the room receive ``member_joined``, a leave ``member_left``."""

    @classmethod
    def of(cls, project: Path) -> Contract:
        """The contract of a rendered ``project``, told by the modules that implement it."""
        package = project / "src" / PACKAGE
        return cls(resume=(package / "history.py").is_file(), presence=(package / "presence.py").is_file())

    def check_join(self, message: dict[str, Any], room: str, *, members: int) -> str | None:
        """What is wrong with ``message`` as the reply to joining ``room`` (of at most ``members``), if anything."""
        if message.get("type") not in ("joined", "subscribed") or message.get("room") != room:
            return "not the reply to the join"
        if not self.resume:
            return None
        keys = {"type", "room", "epoch", "seq", *(("members",) if message["type"] == "joined" else ())}
        epoch, seq = message.get("epoch"), message.get("seq")
        if set(message) != keys:
            return f"fields {sorted(message)}, not {sorted(keys)}"
        if not (isinstance(epoch, str) and 1 <= len(epoch) <= 32) or not (isinstance(seq, int) and seq >= 0):
            return "no epoch of 1 to 32 characters and seq >= 0"
        count = message.get("members", 1)
        if not (isinstance(count, int) and 1 <= count <= members):
            return f"members is not 1 to {members}"
        return None


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
    contract: Contract = Contract()


def render(destination: Path, style: str, vcs_ref: str) -> Path:
    """The render of ``style`` (text mode, no auth, memory broker) at ``vcs_ref``.

    ``HEAD`` (the working tree, as ``copier copy --vcs-ref HEAD`` takes it) comes from the tests'
    render cache; another ref is rendered into ``destination``.
    """
    if vcs_ref == "HEAD":
        return Renders()(Variant(interface_style=style))
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
    env.update(BENCH_ENV, PYTHONPATH=str(project / "src"), PYTHONDONTWRITEBYTECODE="1")
    return Server(
        name=label,
        command=(sys.executable, "-m", PACKAGE),
        cwd=project,
        env=env,
        kind="stream" if style == "stream" else "duplex",
        contract=Contract.of(project),
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


@dataclass
class Running(harness.Running):
    """A started server (the harness's process, port and log) and which server it is."""

    server: Server | None = None

    @property
    def kind(self) -> str:
        assert self.server is not None
        return self.server.kind

    @property
    def contract(self) -> Contract:
        assert self.server is not None
        return self.server.contract


@contextlib.contextmanager
def started(server: Server, server_cores: set[int] | None, timeout: float = 30) -> Iterator[Running]:
    """Start a fresh ``server`` process, wait until ``/health`` answers, and stop it on exit (SIGINT)."""
    with harness.started(
        server.command, cwd=server.cwd, env=server.env, name=server.name, cores=server_cores, timeout=timeout
    ) as running:
        yield Running(running.name, running.process, running.port, running.log, running.group, server)
