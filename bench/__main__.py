"""Run the benchmark: ``uv run python -m bench`` (full, for people) or ``--quick`` (a few seconds per spec).

Renders the variants, then for each round starts, for each spec, a fresh server of every kind
in turn (the order rotates from round to round) with the client and the server pinned to
different cores. Prints, per spec, each server's figures as medians over the rounds and its
ratios to the spec's reference (raw Litestar echo or sequential-await room) as medians of
per-round ratios with min..max. Exits 1, with the reason, on the first correctness violation.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvloop

from . import workloads
from .servers import Running, Server, ServiceError, cores, reference, render, started, variant

DUPLEX_STYLES = ("low_level", "listener", "class_based", "combined")
STYLES = (*DUPLEX_STYLES, "stream")


@dataclass(frozen=True)
class Sizes:
    echo_clients: int
    echo_round_trips: int
    fanout_members: int
    fanout_messages: int
    idle_connections: int
    rounds: int


FULL = Sizes(
    echo_clients=50, echo_round_trips=1000, fanout_members=1000, fanout_messages=50, idle_connections=1000, rounds=3
)
QUICK = Sizes(
    echo_clients=10, echo_round_trips=100, fanout_members=100, fanout_messages=10, idle_connections=100, rounds=1
)


@dataclass(frozen=True)
class Spec:
    """One measurement: its reference server, the servers compared with it and how to measure one run."""

    name: str
    baseline: Server
    servers: list[Server]
    measure: Callable[[Running], Coroutine[Any, Any, Any]]
    ratios: tuple[str, ...]
    """Figures reported as a ratio to the baseline's figure of the same round."""


def specs(sizes: Sizes, duplex: list[Server], stream: list[Server]) -> list[Spec]:
    echo_ref, room_ref = reference("echo"), reference("room")
    warmup_rt = max(10, sizes.echo_round_trips // 10)
    return [
        Spec(
            f"echo: {sizes.echo_clients} clients x {sizes.echo_round_trips} closed-loop ping round trips",
            echo_ref,
            duplex,
            lambda r: workloads.echo(r, sizes.echo_clients, sizes.echo_round_trips, warmup_rt),
            ("msgs_per_s", "p50_us", "p99_us", "cpu_us"),
        ),
        *(
            Spec(
                f"fan-out by {by}: {sizes.fanout_members} members x {sizes.fanout_messages} messages",
                room_ref,
                servers,
                lambda r, by=by: workloads.fanout(r, sizes.fanout_members, sizes.fanout_messages, 3, by),
                ("p50_ms", "p99_ms", "max_ms", "cpu_us"),
            )
            # The raw stream reference shows the floor Litestar's @websocket_stream sets for the stream style.
            for by, servers in (("say", duplex), ("POST", duplex + stream + ([reference("stream")] if stream else [])))
        ),
        Spec(
            f"idle: KiB of RSS per joined connection, over {sizes.idle_connections}",
            echo_ref,
            duplex + stream,
            lambda r: workloads.idle(r, sizes.idle_connections, 20),
            ("kib",),
        ),
    ]


def as_figures(result: Any) -> dict[str, float]:
    if isinstance(result, float):
        return {"kib": result}
    return {name: float(value) for name, value in asdict(result).items()}


def run_once(
    server: Server, measure: Callable[[Running], Coroutine[Any, Any, Any]], server_cores: set[int] | None
) -> dict[str, float]:
    with started(server, server_cores) as running:
        try:
            return as_figures(uvloop.run(workloads.cleanly(measure(running))))
        except ServiceError as exc:
            raise type(exc)(f"{server.name}: {exc}\n--- server log ---\n{running.log_tail()}") from None


COUNTS = ("delivered", "expected", "order_violations")
"""Figures summed over the rounds; every other figure is the median over the rounds."""


def cell(runs: list[dict[str, float]], name: str) -> str:
    if name in COUNTS:
        return str(int(sum(run[name] for run in runs)))
    return f"{statistics.median(run[name] for run in runs):.1f}"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}..{max(values):.2f})"


def report(spec: Spec, figures: dict[str, list[dict[str, float]]]) -> None:
    print(f"\n## {spec.name} (medians over the rounds; counts summed)")
    base = figures[spec.baseline.name]
    names = list(base[0])
    header = ["server", *names]
    rows = [[server.name, *(cell(figures[server.name], n) for n in names)] for server in [spec.baseline, *spec.servers]]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"ratio to {spec.baseline.name}: median of per-round ratios (min..max)")
    for server in spec.servers:
        runs = figures[server.name]
        cells = [f"{n} {spread([run[n] / ref[n] for run, ref in zip(runs, base, strict=True)])}" for n in spec.ratios]
        print(f"  {server.name}: " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round per spec (what the template's tests run)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 3, or 1 with --quick)")
    parser.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES), help="interface styles to measure")
    parser.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="GIT_REF",
        help="also measure the variants rendered at this git ref of the template (e.g. main), in the same rounds",
    )
    parser.add_argument("--only", nargs="+", choices=["echo", "say", "POST", "idle"], help="run only these specs")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or sizes.rounds
    client_cores, server_cores = cores()
    if client_cores is not None:
        os.sched_setaffinity(0, client_cores)
    print(f"client on cores {client_cores or 'any'}, servers on {server_cores or 'any'}; {rounds} round(s)")
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        duplex: list[Server] = []
        stream: list[Server] = []
        for ref in ["HEAD", *args.ref]:
            suffix = "" if ref == "HEAD" else f"@{ref}"
            for style in args.styles:
                project = render(Path(workdir) / f"{style}{suffix.replace('@', '-')}", style, ref)
                (stream if style == "stream" else duplex).append(variant(project, style, style + suffix))
        chosen = specs(sizes, duplex, stream)
        if args.only:
            keys = {"echo": "echo", "say": "fan-out by say", "POST": "fan-out by POST", "idle": "idle"}
            chosen = [spec for spec in chosen if any(spec.name.startswith(keys[o]) for o in args.only)]
        results: dict[str, dict[str, list[dict[str, float]]]] = {spec.name: defaultdict(list) for spec in chosen}
        started_at = time.monotonic()
        try:
            for round_index in range(rounds):
                for spec in chosen:
                    lineup = [spec.baseline, *spec.servers]
                    shift = round_index % len(lineup)
                    for server in lineup[shift:] + lineup[:shift]:
                        results[spec.name][server.name].append(run_once(server, spec.measure, server_cores))
                print(f"round {round_index + 1}/{rounds} done ({time.monotonic() - started_at:.0f} s)", flush=True)
        except ServiceError as exc:  # BenchError: a correctness check; or a server that did not start or settle
            print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
            return 1
    for spec in chosen:
        report(spec, results[spec.name])
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
