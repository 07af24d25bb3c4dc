"""Where a round trip goes, layer by layer: ``uv run python -m bench.layers`` (``--quick``: seconds).

Serves each rendered style, and the reference servers, in a process of its own over a no-op
transport (``bench/noop.py``: uvicorn's protocols, no socket) and measures:

- an echo round trip (a ``ping`` and its ``pong``), whole, and again with one layer of the
  service replaced by the cheapest stand-in that still answers the ping (an *ablation*): the
  difference is what that layer costs in its real context, and what removing it would save;
- one fan-out delivery (a room message reaching one member), by ``say`` and by ``POST``, whole and
  without the outbox's writer;
- the Python memory an idle joined connection holds (tracemalloc).

Figures are CPU microseconds of the process (the minimum over ``--repeats``), and with
``--callgrind`` also instructions counted by valgrind's callgrind, which load on the machine
does not change: decide with instructions, read microseconds for scale. ``--ref GIT_REF``
measures the variants rendered at another git ref in the same run (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from . import noop
from .servers import BENCH_ENV, PACKAGE, ROOT, BenchError, Contract, render

DUPLEX_STYLES = ("low_level", "listener", "class_based", "combined")
STYLES = (*DUPLEX_STYLES, "stream")

LAYER_ENV = {**BENCH_ENV, "WS_RATE_LIMIT_PER_S": "1000000000", "WS_RATE_LIMIT_BURST": "1000000"}
"""The benchmark's settings, but with the rate limiter on (at a rate no client reaches): the
table shows what a service with its default settings pays for it."""


@dataclass(frozen=True)
class Sizes:
    clients: int
    round_trips: int
    members: int
    messages: int
    idle: int
    repeats: int


FULL = Sizes(clients=10, round_trips=2000, members=200, messages=40, idle=500, repeats=5)
QUICK = Sizes(clients=4, round_trips=50, members=20, messages=4, idle=40, repeats=1)
CALLGRIND = Sizes(clients=4, round_trips=200, members=50, messages=6, idle=40, repeats=1)
"""Under callgrind a process runs about 50 times slower, and counts are the same every run."""


@dataclass(frozen=True)
class Target:
    """What one measuring process serves: a reference server or a rendered style (at a git ref)."""

    label: str
    kind: str
    """``"echo"``, ``"room"`` or ``"stream"`` (``bench/reference.py``), or a rendered ``"duplex"``
    style or ``"feed"`` (the stream style)."""
    project: str | None = None


# The measuring process.


class Meter:
    """Measures segments: CPU time always, and instructions when running under callgrind."""

    def __init__(self, callgrind_lib: str | None) -> None:
        self.lib = None
        if callgrind_lib:
            import ctypes

            self.lib = ctypes.CDLL(callgrind_lib)
        self.results: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def segment(self, name: str, count: int) -> Iterator[None]:
        """Measure the block as ``count`` operations of ``name`` (the best of repeated segments is kept)."""
        # Only the segments run instrumented: the rest (start-up, handshakes, tracemalloc) would run
        # 50 times slower for nothing.
        if self.lib is not None:
            self.lib.start_instrumentation()
            self.lib.zero()
        cpu = time.process_time_ns()
        yield
        cpu = time.process_time_ns() - cpu
        if self.lib is not None:
            self.lib.dump(name.encode())
            self.lib.stop_instrumentation()
        best = self.results.get(name)
        if best is None or cpu / count < best["cpu_us"]:
            self.results[name] = {"cpu_us": cpu / count / 1000, "count": count}


def serve(target: Target) -> tuple[noop.Served, ModuleType | None]:
    """The target's app behind uvicorn, configured as its run command does; and its package, if rendered."""
    if target.project is None:
        from .reference import UVICORN_OPTIONS, build_app

        return noop.Served(build_app(target.kind), dict(UVICORN_OPTIONS)), None
    import importlib

    sys.path.insert(0, str(Path(target.project) / "src"))
    package = importlib.import_module(PACKAGE)
    app_module = importlib.import_module(f"{PACKAGE}.app")
    server = importlib.import_module(f"{PACKAGE}.server")
    settings = importlib.import_module(f"{PACKAGE}.settings").Settings()
    importlib.import_module(f"{PACKAGE}.logs").configure_logging(settings.log_format)
    app = app_module.create_app(settings)
    server.prepare_gc()
    return noop.Served(app, server.uvicorn_options(settings)), package


class Patches:
    """Attributes replaced for one ablation, and put back."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        if not hasattr(owner, name):
            raise LookupError(f"{getattr(owner, '__name__', owner)}.{name}")
        self.saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, value in reversed(self.saved):
            setattr(owner, name, value)
        self.saved.clear()


def _drive(send: Coroutine[Any, Any, None]) -> None:
    # Runs a send that completes without suspending, as uvicorn's does while its transport takes data.
    try:
        send.send(None)
    except StopIteration:
        return
    send.close()
    raise BenchError("a send suspended: the no-op transport should never make it wait")


def _module(package: ModuleType, name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"{package.__name__}.{name}")


def without_writer(package: ModuleType, patches: Patches) -> None:
    """Every frame is sent at once by whoever queues it: no outbox, no writer task, no wake-up."""
    connection_module = _module(package, "connection")
    outbox_module = _module(package, "outbox")

    class DirectOutbox(outbox_module.Outbox):  # type: ignore[name-defined,misc]
        __slots__ = ("held", "send")

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.send: Callable[[Any], Coroutine[Any, Any, None]] | None = None
            self.held: list[Any] = []

        def enqueue(self, frame: Any) -> None:
            if self.send is None:  # queued before the stream's generator started: its `subscribed`
                self.held.append(frame)
            else:
                _drive(self.send(frame))

    def start_writer(connection: Any) -> None:
        connection.outbox.send = connection.socket.send_frame

    async def never(connection: Any) -> AsyncGenerator[Any, None]:
        # What the join queued before the stream started goes out through the stream, in order;
        # every later frame is sent at once by whoever queues it.
        outbox = connection.outbox
        while outbox.held:
            yield outbox.held.pop(0)
        outbox.send = connection.socket.send_frame
        await asyncio.Event().wait()
        yield None

    patches.set(connection_module, "Outbox", DirectOutbox)
    owner = connection_module.Connection
    patches.set(
        owner,
        "drain" if hasattr(owner, "drain") else "start_writer",
        never if hasattr(owner, "drain") else start_writer,
    )


def echo_ablations(package: ModuleType) -> dict[str, Callable[[Patches], None]]:
    """For each layer of the echo round trip, the patch that replaces it by its cheapest stand-in."""
    dispatch = _module(package, "dispatch")
    protocol = _module(package, "protocol")
    models = _module(package, "models")
    ping = dispatch.parse(noop.PING_PAYLOAD.decode())
    pong = models.Pong(id="1234")
    pong_frame = dispatch.encode(pong)

    async def handled(message: Any, connection: Any, manager: Any) -> Any:
        return pong

    from litestar import WebSocket

    return {
        "frame checks (kind, size)": lambda p: p.set(protocol, "frame_violation", lambda event, limit: None),
        "receive wrapper (whole)": lambda p: p.set(
            protocol.ServiceWebSocket, "receive_wrapper", WebSocket.receive_wrapper
        ),
        "rate limit": lambda p: p.set(_module(package, "ratelimit").RateLimiter, "admit", lambda self: True),
        "parse": lambda p: p.set(dispatch, "parse", lambda frame: ping),
        "handle": lambda p: p.set(dispatch, "handle", handled),
        "encode": lambda p: p.set(dispatch, "encode", lambda reply: pong_frame),
        "metrics (frames received)": lambda p: p.set(dispatch, "_count", lambda message, reply: None),
        "outbox, writer wake-up and task switch": lambda p: without_writer(package, p),
    }


async def measure_echo(served: noop.Served, meter: Meter, sizes: Sizes, name: str, reply: bytes) -> None:
    clients = await noop.connect(served, "/ws", sizes.clients)
    echoes = noop.Echoes(served, clients, reply)
    await echoes.run(max(5, sizes.round_trips // 10))
    for _ in range(sizes.repeats):
        with meter.segment(name, sizes.round_trips * sizes.clients):
            await echoes.run(sizes.round_trips)
    await noop.close_all(clients)


async def measure_fanout(
    served: noop.Served, meter: Meter, sizes: Sizes, name: str, by: str, *, feed: bool, contract: Contract
) -> None:
    members = await noop.join(served, sizes.members, stream=feed, contract=contract)
    room = noop.Room(served, members, noop.publisher(served, members, by))
    await room.run(2)
    for _ in range(sizes.repeats):
        with meter.segment(name, sizes.messages * sizes.members):
            await room.run(sizes.messages)
    await noop.close_all(members)


async def measure(target: Target, sizes: Sizes, meter: Meter, *, ablate: bool = True) -> dict[str, Any]:
    served, package = serve(target)
    contract = Contract() if target.project is None else Contract.of(Path(target.project))
    await served.start()
    notes: dict[str, Any] = {}
    try:
        if target.kind in ("echo", "duplex"):
            reply = noop.PING_PAYLOAD if target.kind == "echo" else noop.PONG
            await measure_echo(served, meter, sizes, "echo", reply)
            if package is not None and ablate:
                for layer, ablate in echo_ablations(package).items():
                    patches = Patches()
                    try:
                        ablate(patches)
                    except LookupError as missing:
                        notes[f"echo without {layer}"] = f"n/a: no {missing}"
                        continue
                    try:
                        await measure_echo(served, meter, sizes, f"echo without {layer}", reply)
                    finally:
                        patches.undo()
        fanouts = {"echo": (), "room": ("say", "POST"), "duplex": ("say", "POST")}.get(target.kind, ("POST",))
        for by in fanouts:
            feed = target.kind in ("stream", "feed")
            await measure_fanout(served, meter, sizes, f"fan-out by {by}", by, feed=feed, contract=contract)
            if package is not None and ablate:
                patches = Patches()
                without_writer(package, patches)
                try:
                    await measure_fanout(
                        served, meter, sizes, f"fan-out by {by} without writer", by, feed=feed, contract=contract
                    )
                finally:
                    patches.undo()
        path = "/ws/rooms/" + noop.ROOM if target.kind in ("stream", "feed") else "/ws"
        notes["idle_bytes"] = await noop.idle_bytes(
            served, sizes.idle, path=path, join_room=target.kind != "echo", contract=contract
        )
    finally:
        await served.stop()
    return {"segments": meter.results, "notes": notes}


def child(argv: list[str]) -> None:
    import uvloop

    spec = json.loads(argv[0])
    target = Target(**spec["target"])
    sizes = Sizes(**spec["sizes"])
    meter = Meter(os.environ.get("BENCH_CALLGRIND_LIB"))
    result = uvloop.run(measure(target, sizes, meter, ablate=spec["ablate"]))
    print(json.dumps(result))


# The parent: render, run a process per target, tabulate.

_CALLGRIND_C = """
#include <valgrind/callgrind.h>
void start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def callgrind_lib(workdir: Path) -> Path:
    """Build the shared library through which a measuring process marks its segments for callgrind.

    Raises:
        BenchError: no C compiler, valgrind or valgrind's headers.
    """
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        raise BenchError("--callgrind needs valgrind and a C compiler (cc)")
    source = workdir / "marks.c"
    source.write_text(_CALLGRIND_C)
    library = workdir / "marks.so"
    built = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", library, source], capture_output=True, text=True)
    if built.returncode:
        raise BenchError(f"building the callgrind marks failed (valgrind's headers missing?):\n{built.stderr}")
    return library


@dataclass
class Measured:
    segments: dict[str, dict[str, float]]
    notes: dict[str, Any]
    instructions: dict[str, float] = field(default_factory=dict)
    """Instructions per operation of each segment, under callgrind."""


def run_target(target: Target, sizes: Sizes, workdir: Path, library: Path | None, *, ablate: bool = True) -> Measured:
    env = {name: value for name, value in os.environ.items() if not name.startswith("WS_")}
    env.update(LAYER_ENV, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", WS_LOG_FORMAT="json")
    command = [
        sys.executable,
        "-m",
        "bench.layers",
        "--child",
        json.dumps({"target": asdict(target), "sizes": asdict(sizes), "ablate": ablate}),
    ]
    out_dir = Path(tempfile.mkdtemp(prefix="cg-", dir=workdir))
    if library is not None:
        env["BENCH_CALLGRIND_LIB"] = str(library)
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no",
            f"--callgrind-out-file={out_dir}/cg.%p", *command,
        ]  # fmt: skip
    log = workdir / f"{target.label.replace('@', '-')}.log"
    with log.open("w") as stderr:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    if done.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BenchError(f"{target.label}: the measuring process failed ({done.returncode}):\n{tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    measured = Measured(result["segments"], result["notes"])
    if library is not None:
        measured.instructions = instructions(out_dir, measured.segments)
    return measured


def instructions(out_dir: Path, segments: dict[str, dict[str, float]]) -> dict[str, float]:
    """Instructions per operation of each segment, from callgrind's dumps (the lowest of repeated segments)."""
    found: dict[str, float] = {}
    for dump in out_dir.glob("cg.*.*"):
        name, total = None, None
        for line in dump.read_text().splitlines():
            if line.startswith("desc: Trigger: Client Request: "):
                name = line.removeprefix("desc: Trigger: Client Request: ")
            elif line.startswith("totals: "):
                total = int(line.split()[1])
        if name in segments and total is not None:
            per_op = total / segments[name]["count"]
            if os.environ.get("BENCH_DEBUG"):
                print(f"  {dump.name} {name}: {per_op:.0f}", file=sys.stderr)
            found[name] = min(found.get(name, per_op), per_op)
    return found


# Tables.


@dataclass
class Cell:
    cpu_us: float | None
    kinstr: float | None

    def __str__(self) -> str:
        if self.cpu_us is None:
            return "n/a"
        text = f"{self.cpu_us:.2f}"
        return text if self.kinstr is None else f"{self.kinstr:.1f}k {text}"


def cell(measured: Measured, name: str, minus: str | None = None) -> Cell:
    segment = measured.segments.get(name)
    if segment is None or (minus is not None and minus not in measured.segments):
        return Cell(None, None)
    cpu = segment["cpu_us"] - (measured.segments[minus]["cpu_us"] if minus else 0.0)
    kinstr = None
    if name in measured.instructions:
        kinstr = (measured.instructions[name] - (measured.instructions[minus] if minus else 0.0)) / 1000
    return Cell(cpu, kinstr)


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n## {title}")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip())


def ratio(measured: Measured, name: str, reference: Measured, ref_name: str) -> str:
    if name not in measured.segments or ref_name not in reference.segments:
        return "n/a"
    if measured.instructions and reference.instructions:
        return f"{measured.instructions[name] / reference.instructions[ref_name]:.2f}x"
    return f"{measured.segments[name]['cpu_us'] / reference.segments[ref_name]['cpu_us']:.2f}x"


def report(results: dict[str, Measured], duplex: list[str], feeds: list[str], counted: bool) -> None:
    unit = "k instructions and CPU us" if counted else "CPU us"
    echo_ref, room_ref, stream_ref = results["raw-echo"], results["sequential"], results.get("raw-stream")
    rows = [["raw Litestar echo (whole)", *(str(cell(echo_ref, "echo")) for _ in duplex)]]
    rows.append(["service (whole)", *(str(cell(results[label], "echo")) for label in duplex)])
    rows.append(["ratio to raw echo", *(ratio(results[label], "echo", echo_ref, "echo") for label in duplex)])
    layers = [
        name.removeprefix("echo without ") for name in results[duplex[0]].segments if name.startswith("echo without ")
    ]
    for layer in layers:
        rows.append([f"  {layer}", *(str(cell(results[label], "echo", f"echo without {layer}")) for label in duplex)])
    print_table(
        f"echo round trip, in process ({unit}; a layer: what the round trip costs less without it)", ["", *duplex], rows
    )
    for by, labels in (("say", duplex), ("POST", duplex + feeds)):
        name = f"fan-out by {by}"
        rows = [["sequential room (whole)", *(str(cell(room_ref, name)) for _ in labels)]]
        if by == "POST" and stream_ref is not None and feeds:
            rows.append(["raw stream (whole)", *(str(cell(stream_ref, name)) for _ in labels)])
        rows.append(["service (whole)", *(str(cell(results[label], name)) for label in labels)])
        rows.append(["ratio to sequential", *(ratio(results[label], name, room_ref, name) for label in labels)])
        without = f"{name} without writer"
        writer = [str(cell(results[label], name, without)) for label in labels]
        rows.append(["  outbox, writer wake-up and task switch", *writer])
        print_table(f"one fan-out delivery by {by}, in process ({unit})", ["", *labels], rows)
    rows = [
        [label, f"{results[label].notes['idle_bytes'] / 1024:.1f}"]
        for label in ["raw-echo", "sequential", *duplex, *feeds]
    ]
    print_table("idle joined connection, in process (KiB of Python memory, tracemalloc)", ["server", "KiB"], rows)
    for label, measured in results.items():
        for note, text in measured.notes.items():
            if note != "idle_bytes":
                print(f"{label}: {note}: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a few round trips per layer (what the template's tests run)"
    )
    parser.add_argument("--callgrind", action="store_true", help="also count instructions with valgrind's callgrind")
    parser.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES), help="interface styles to measure")
    parser.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="GIT_REF",
        help="also measure the variants rendered at this git ref",
    )
    parser.add_argument(
        "--whole", action="store_true", help="only the whole round trip and delivery, no layer (a quick before/after)"
    )
    parser.add_argument("--repeats", type=int, help="repeated segments per figure, the fastest kept")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else CALLGRIND if args.callgrind else FULL
    if args.repeats:
        sizes = Sizes(**{**asdict(sizes), "repeats": args.repeats})
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
        workdir = Path(tmp)
        try:
            library = callgrind_lib(workdir) if args.callgrind else None
            targets = [Target("raw-echo", "echo"), Target("sequential", "room")]
            if "stream" in args.styles:
                targets.append(Target("raw-stream", "stream"))
            duplex: list[str] = []
            feeds: list[str] = []
            for ref in ["HEAD", *args.ref]:
                suffix = "" if ref == "HEAD" else f"@{ref}"
                for style in args.styles:
                    project = render(workdir / f"{style}{suffix.replace('@', '-')}", style, ref)
                    kind = "feed" if style == "stream" else "duplex"
                    targets.append(Target(style + suffix, kind, str(project)))
                    (feeds if style == "stream" else duplex).append(style + suffix)
            results = {}
            for target in targets:
                started = time.monotonic()
                results[target.label] = run_target(target, sizes, workdir, library, ablate=not args.whole)
                print(f"{target.label}: measured in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        except BenchError as exc:
            print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
            return 1
    report(results, duplex, feeds, library is not None)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        with contextlib.suppress(KeyboardInterrupt):
            sys.exit(main())
