"""Import a render's package and hold one exchange with its app in-process: tier 1's smoke test.

Run as ``python -m tests.smoke`` (tests/conftest.py starts one per xdist worker): it imports the
services' dependencies once (those the first render imports), then for each request line on
stdin, a JSON object with ``project``, ``package``, ``duplex``, ``transport_mode``, ``room`` and
``env`` (``WS_*`` settings), it forks a child that imports every module of the package from ``<project>/src``, holds the
exchange and writes the AsyncAPI document with the package's CLI; one JSON line answers,
``{"error": null, "asyncapi": {...}}`` or ``{"error": "<the child's traceback>", ...}``.

Forking keeps renders apart (each child has a module table and a metrics registry of its own:
renders share the package name) at the cost of a fork instead of an interpreter start and the
dependencies' imports (about 1 s each). The exchange, in Litestar's TestClient:

- duplex styles: ``ping`` -> ``pong``, ``join`` -> ``joined``, ``say`` -> the room's message;
- the stream style: ``subscribed`` on connecting to a room's feed, then ``POST`` a message to
  the room (202) and receive it on the feed;

each frame in the render's transport mode, and any warning an error (as the generated suites have it).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import traceback
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHILD_TIMEOUT_S = 60.0
TOKEN = "smoke-token"
BASE_URL = "http://127.0.0.1"
"""A ``Host`` the default ``WS_ALLOWED_HOSTS`` accepts."""


def exchange(client: Any, duplex: bool, mode: str, room: str) -> None:
    """One exchange in ``room`` with the app behind ``client`` (a TestClient); fail with an AssertionError.

    ``room`` is new to the broker: with Redis, the room's ``seq`` starts at 1 only there.
    """

    def send(ws: Any, message: dict[str, object]) -> None:
        frame = json.dumps(message)
        ws.send_text(frame) if mode == "text" else ws.send_bytes(frame.encode())

    def receive(ws: Any) -> dict[str, Any]:
        event = ws.receive(timeout=5)
        kind = "text" if event.get("text") is not None else "binary"
        assert kind == mode, f"a {kind} frame from a {mode} service: {event!r}"
        message: dict[str, Any] = json.loads(event["text"] if kind == "text" else event["bytes"])
        return message

    headers = {"Authorization": f"Bearer {TOKEN}"}
    if duplex:
        with client.websocket_connect("/ws", headers=headers) as ws:
            send(ws, {"type": "ping", "id": "smoke"})
            assert receive(ws) == {"type": "pong", "id": "smoke"}
            send(ws, {"type": "join", "room": room})
            assert receive(ws)["type"] == "joined"
            send(ws, {"type": "say", "room": room, "text": "hi"})
            message = receive(ws)
            assert (message["type"], message["room"], message["text"], message["seq"]) == ("message", room, "hi", 1)
        return
    with client.websocket_connect(f"/ws/rooms/{room}", headers=headers) as ws:
        subscribed = receive(ws)
        assert (subscribed["type"], subscribed["room"], subscribed["seq"]) == ("subscribed", room, 0), subscribed
        posted = client.post(f"/rooms/{room}/messages", json={"text": "hi"}, headers=headers)
        epoch = subscribed["epoch"]
        assert (posted.status_code, posted.json()) == (202, {"room": room, "seq": 1, "epoch": epoch}), posted.text
        message = receive(ws)
        assert (message["type"], message["text"], message["sender"], message["seq"]) == ("message", "hi", "http", 1)


def import_package(request: dict[str, Any]) -> None:
    """Import every module of the request's package, subpackages included, from its render, settings in os.environ."""
    os.environ.update(request["env"])
    source = Path(request["project"]) / "src"
    sys.path.insert(0, str(source))
    package = request["package"]
    for module in sorted((source / package).rglob("*.py")):
        parts = module.relative_to(source).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


def smoke(request: dict[str, Any]) -> object:
    """In the child: import every module of the package, hold the exchange with its ``app``, then
    return the AsyncAPI document its CLI (``<package>-asyncapi FILE``) writes."""
    warnings.simplefilter("error")
    import_package(request)
    from litestar.testing import TestClient

    package = request["package"]
    app = importlib.import_module(f"{package}.app").app  # built from the settings in os.environ
    with TestClient(app, base_url=BASE_URL, timeout=5) as client:
        exchange(client, request["duplex"], request["transport_mode"], request["room"])
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "asyncapi.json"
        importlib.import_module(f"{package}.asyncapi.__main__").main([str(document)])
        return json.loads(document.read_text())


def in_child(work: Callable[[], object]) -> tuple[object, str | None]:
    """Run ``work`` in a forked child; its JSON-able result and ``None``, or ``None`` and a traceback."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own output goes to a file, shown with a failure
        os.close(reader)
        output = tempfile.TemporaryFile()  # noqa: SIM115 (open until the child exits)
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        try:
            answer = {"result": work(), "error": None}
        except BaseException:
            output.seek(0)
            logged = output.read().decode(errors="replace")[-4000:]
            answer = {
                "result": None,
                "error": traceback.format_exc() + (f"\n--- output ---\n{logged}" if logged else ""),
            }
        with os.fdopen(writer, "w") as channel:
            channel.write(json.dumps(answer))
        os._exit(0)
    os.close(writer)
    ready, _, _ = select.select([reader], [], [], CHILD_TIMEOUT_S)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(reader) as channel:
        text = channel.read() if ready else ""
    os.waitpid(pid, 0)
    if not text:
        return None, f"no answer within {CHILD_TIMEOUT_S:g} s (or the child died)"
    answer = json.loads(text)
    return answer["result"], answer["error"]


def dependencies_of(request: dict[str, Any]) -> list[str]:
    """The modules, not of the package, that importing the package imports (run in a child)."""
    before = set(sys.modules)
    import_package(request)
    # In the order they were imported: some must come before others (asyncio before _asyncio).
    return [name for name in sys.modules if name not in before and name.split(".")[0] != request["package"]]


def serve() -> None:
    """Answer request lines on stdin, one forked child each.

    The first request's package is imported once in a child first, to learn the dependencies
    the package imports; this process then imports them, so that children inherit them.
    No bytecode is written: renders are shared.
    """
    sys.dont_write_bytecode = True
    preloaded = False
    for line in sys.stdin:
        request = json.loads(line)
        if not preloaded:
            names, _ = in_child(lambda request=request: dependencies_of(request))
            for name in names or ():
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
            preloaded = True
        document, error = in_child(lambda request=request: smoke(request))
        print(json.dumps({"error": error, "asyncapi": document}), flush=True)


class Smoke:
    """The test side: a ``python -m tests.smoke`` process, asked one render at a time."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.smoke"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def check(
        self, project: Path, package: str, *, duplex: bool, transport_mode: str, env: dict[str, str]
    ) -> dict[str, Any]:
        """Smoke-test the render ``project``; its AsyncAPI document.

        Raises:
            AssertionError: with the child's traceback and output.
        """
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        request = {
            "project": str(project),
            "package": package,
            "duplex": duplex,
            "transport_mode": transport_mode,
            "env": env,
            "room": f"smoke-{uuid.uuid4().hex[:12]}",
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"python -m tests.smoke exited with {self.process.wait()}"
        answer = json.loads(line)
        assert answer["error"] is None, answer["error"]
        document: dict[str, Any] = answer["asyncapi"]
        return document

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(CHILD_TIMEOUT_S)
        self.process.stdout.close()


if __name__ == "__main__":
    serve()
