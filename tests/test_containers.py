"""Every variant's container files, validated; two variants' images built with podman and run.

The compose file of a memory and a Redis variant is checked against the Compose Specification
schema that check-jsonschema vendors (tier 1). The images (tier 3) of a duplex variant (listener,
with ``broker=redis``) and of the stream variant (tests/matrix.py's ``IMAGE_DUPLEX`` and
``IMAGE_STREAM``) are built from their rendered ``Dockerfile`` (on the local base image of
tests/podman.py, through ``BASE_IMAGE``) and started with ``--network host`` on a free port, with
``HOST=127.0.0.1`` so they listen on loopback only. A client from the host gets its answers and
``/health`` 200; ``podman stop`` closes every client with 1012 and the container exits by itself
well within the stop timeout; two containers of the Redis variant deliver one room across
replicas in ``seq`` order. The generated docs/deploy.md's deploy commands build the stream variant's
render again: podman's layer cache serves that build whole.

All image tests share one xdist group: builds run one at a time and each image is built once per
session (podman's layer cache keeps the base, uv and dependency layers between runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from . import harness, podman
from .matrix import IMAGE_DUPLEX, IMAGE_STREAM, Variant
from .renders import Renders

TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
"""``podman stop -t``: SIGKILL follows SIGTERM after this many seconds (compose's stop_grace_period)."""

CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def images(test: Any) -> Any:
    """Tier 3, in the one xdist group of the image tests."""
    return pytest.mark.tier3(pytest.mark.xdist_group("images")(test))


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.tier1
@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_compose_file_is_valid_with_health_checks(renders: Renders, broker: str) -> None:
    project = renders(Variant(broker=broker))
    result = validate_compose(project / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    replicas = {name: service for name, service in services.items() if service.get("build") == "."}
    assert all(service["healthcheck"]["test"][0] == "CMD" for service in services.values())
    if broker == "memory":
        assert list(replicas) == ["rooms-service"]
        return
    assert len(replicas) == 2
    host_ports = {service["ports"][0].split(":")[0] for service in replicas.values()}
    assert host_ports == {"8000", "8001"}
    for service in replicas.values():
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert service["environment"]["WS_REDIS_URL"] == "redis://redis:6379/0"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


@pytest.mark.tier1
def test_the_compose_check_catches_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  app:\n    image: x\n    depends_on:\n      redis:\n        condition: healthy\n")
    assert validate_compose(broken).returncode != 0


# --- images -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def base_image() -> str:
    missing = podman.missing_tools()
    if missing:
        message = f"the image tests need {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("COPIER_LITESTAR_WS_IMAGE_TESTS") == "required":
            pytest.fail(message)
        pytest.skip(message)
    return podman.base_image()


def own_copy(project: Path, parent: Path) -> Path:
    """A copy of the cached render ``project`` under ``parent``, so locking and building leave the cache as rendered."""
    return Path(shutil.copytree(project, parent / project.name))


@pytest.fixture(scope="session")
def locked(renders: Renders, tmp_path_factory: pytest.TempPathFactory) -> Callable[[Variant], Path]:
    """``locked(variant)``: a copy of the variant's render with its ``uv.lock``, made once.

    The copy task locks a render; the matrix renders without tasks. One copy per variant keeps
    the lock (and so podman's cached dependency layer) the same for every build of it.
    """
    copies: dict[Variant, Path] = {}

    def get(variant: Variant) -> Path:
        if variant not in copies:
            project = own_copy(renders(variant), tmp_path_factory.mktemp("image"))
            subprocess.run(["uv", "lock", "--quiet"], cwd=project, check=True, timeout=300)
            copies[variant] = project
        return copies[variant]

    return get


@pytest.fixture(scope="session")
def image(base_image: str, locked: Callable[[Variant], Path]) -> Callable[[Variant], str]:
    """``image(variant)``: the tag of the variant's image, built on first use."""
    built: dict[Variant, str] = {}

    def get(variant: Variant) -> str:
        if variant not in built:
            tag = f"localhost/copier-litestar-ws-test/{variant.id}"
            podman.build(locked(variant), tag, "--build-arg", f"BASE_IMAGE={base_image}")
            built[variant] = tag
        return built[variant]

    return get


@dataclass
class Container:
    """A running container of a test, listening on 127.0.0.1:``port`` of the host network."""

    name: str
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> ClientConnection:
        return connect(f"ws://127.0.0.1:{self.port}{path}", open_timeout=TIMEOUT_S)

    def logs(self) -> str:
        result = podman.podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def stop(self) -> float:
        """``podman stop``; the seconds it took."""
        started = time.monotonic()
        podman.podman("stop", "--time", str(STOP_TIMEOUT_S), self.name, timeout=STOP_TIMEOUT_S + 30)
        return time.monotonic() - started

    def exit_code(self) -> int:
        return int(podman.podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip())


@contextlib.contextmanager
def running(image: str, **environment: str) -> Iterator[Container]:
    """Run ``image`` as the image's own command on a free loopback port until healthy; remove it after."""
    container = Container(f"copier-litestar-ws-test-{uuid.uuid4().hex[:12]}", harness.free_port())
    settings = {"HOST": "127.0.0.1", "PORT": str(container.port), **environment}
    # The health-check timer needs systemd, absent here; `podman healthcheck run` still works.
    podman.podman(
        "run",
        "--detach",
        "--name",
        container.name,
        "--network",
        "host",
        "--health-interval",
        "disable",
        *[f"--env={name}={value}" for name, value in settings.items()],
        image,
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{container.http}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{image} never became healthy:\n{container.logs()}"
            time.sleep(0.2)
        yield container
    finally:
        podman.podman("rm", "--force", "--time", "0", container.name, check=False)


def send(ws: ClientConnection, message: dict[str, object]) -> None:
    ws.send(json.dumps(message))


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame = ws.recv(timeout=TIMEOUT_S)
    assert isinstance(frame, str), frame
    message: dict[str, Any] = json.loads(frame)
    return message


def assert_stop_closes_every_client_with_1012(container: Container, clients: list[ClientConnection]) -> None:
    took = container.stop()
    for ws in clients:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=TIMEOUT_S)
        assert ws.close_code == 1012, container.logs()
    # Exit code 0: uvicorn shut down by itself on SIGTERM; a SIGKILL after the timeout is 137.
    assert container.exit_code() == 0, container.logs()
    assert took < STOP_TIMEOUT_S, f"podman stop took {took:.1f} s"


@images
def test_duplex_image_serves_a_client_runs_as_non_root_and_stops_with_1012(
    image: Callable[[Variant], str], redis_url: str
) -> None:
    tag = image(IMAGE_DUPLEX)
    inspected = json.loads(podman.podman("image", "inspect", tag).stdout)[0]
    assert inspected["Config"]["User"] == "app"
    assert inspected["Config"]["Cmd"] == ["rooms_service"]
    with running(tag, WS_REDIS_URL=redis_url) as container, contextlib.ExitStack() as stack:
        podman.podman("healthcheck", "run", container.name)
        assert podman.podman("exec", container.name, "id", "-u").stdout.strip() != "0"
        clients = [stack.enter_context(container.ws("/ws")) for _ in range(3)]
        for number, ws in enumerate(clients):
            send(ws, {"type": "ping", "id": str(number)})
            assert receive(ws) == {"type": "pong", "id": str(number)}
        health = httpx.get(f"{container.http}/health", timeout=TIMEOUT_S)
        assert (health.status_code, health.json()) == (200, {"status": "ok", "connections": 3, "rooms": 0})
        assert_stop_closes_every_client_with_1012(container, clients)


@images
def test_stream_image_serves_a_feed_and_stops_with_1012(image: Callable[[Variant], str]) -> None:
    with running(image(IMAGE_STREAM)) as container, contextlib.ExitStack() as stack:
        podman.podman("healthcheck", "run", container.name)
        feeds = [stack.enter_context(container.ws("/ws/rooms/lobby")) for _ in range(2)]
        subscribed = [receive(ws) for ws in feeds]
        # A fresh room: seq 0, under an epoch both feeds share and the post's answer names too.
        epoch = subscribed[0]["epoch"]
        assert isinstance(epoch, str), subscribed
        assert 1 <= len(epoch) <= 32, subscribed
        assert subscribed == [{"type": "subscribed", "room": "lobby", "epoch": epoch, "seq": 0}] * 2
        posted = httpx.post(f"{container.http}/rooms/lobby/messages", json={"text": "hi"}, timeout=TIMEOUT_S)
        assert (posted.status_code, posted.json()) == (202, {"room": "lobby", "seq": 1, "epoch": epoch})
        for ws in feeds:
            message = receive(ws)
            assert (message["type"], message["text"], message["sender"], message["seq"]) == ("message", "hi", "http", 1)
        health = httpx.get(f"{container.http}/health", timeout=TIMEOUT_S)
        assert (health.status_code, health.json()) == (200, {"status": "ok", "connections": 2, "rooms": 1})
        assert_stop_closes_every_client_with_1012(container, feeds)


@images
def test_two_replicas_behind_one_redis_deliver_a_room_in_seq_order(
    image: Callable[[Variant], str], redis_url: str
) -> None:
    tag = image(IMAGE_DUPLEX)
    with (
        running(tag, WS_REDIS_URL=redis_url) as first,
        running(tag, WS_REDIS_URL=redis_url) as second,
        first.ws("/ws") as one,
        second.ws("/ws") as other,
    ):
        members = [one, other]
        joined = []
        for ws in members:
            send(ws, {"type": "join", "room": "across"})
            joined.append(receive(ws))
        # Presence spans the replicas: the second join counts both, and the first member hears of it.
        epoch = joined[0]["epoch"]
        assert isinstance(epoch, str), joined
        assert 1 <= len(epoch) <= 32, joined
        assert joined == [
            {"type": "joined", "room": "across", "members": 1, "epoch": epoch, "seq": 0},
            {"type": "joined", "room": "across", "members": 2, "epoch": epoch, "seq": 0},
        ]
        arrival = receive(one)
        sent = []
        for number in range(10):
            speaker = members[number % 2]
            text = f"{number % 2}:{number}"
            send(speaker, {"type": "say", "room": "across", "text": text})
            sent.append(text)
        posted = httpx.post(f"{second.http}/rooms/across/messages", json={"text": "http"}, timeout=TIMEOUT_S)
        assert posted.status_code == 202
        sent.append("http")
        received = [[receive(ws) for _ in sent] for ws in members]
        assert received[0] == received[1]
        assert [message["seq"] for message in received[0]] == list(range(1, len(sent) + 1))
        assert sorted(message["text"] for message in received[0]) == sorted(sent)
        for replica in ("0", "1"):  # each sender's own messages keep their order
            mine = [message["text"] for message in received[0] if message["text"].startswith(f"{replica}:")]
            assert mine == [text for text in sent if text.startswith(f"{replica}:")]
        senders = {message["text"][:2]: message["sender"] for message in received[0] if message["text"] != "http"}
        assert senders["0:"] != senders["1:"]
        assert arrival == {"type": "member_joined", "room": "across", "sender": senders["1:"]}


DOCKER_SHIM = """#!/bin/sh
# `docker` as docs/deploy.md's commands call it, run by podman as tests/podman.py runs it here.
if [ "$1" = build ]; then
    shift
    exec podman --runtime runc build --network host --format docker --volume {ca}:{ca}:ro \\
        --build-arg BASE_IMAGE={base} "$@"
fi
exec podman --runtime runc "$@"
"""


def sh_block(page: str, heading: str) -> str:
    """The first ``sh`` code block after ``heading`` in ``page``."""
    after = page[page.index(heading) :]
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert block, f"no sh block after {heading!r}"
    return block.group(1)


@images
def test_documented_deploy_commands_build_run_check_and_stop_the_container(
    locked: Callable[[Variant], Path], base_image: str, tmp_path: Path
) -> None:
    """The commands of the generated docs/deploy.md's "A container" section, as written, with docker meaning podman.

    On the stream variant's locked render, which its image test builds too: the same build context.
    """
    project = locked(IMAGE_STREAM)
    commands = sh_block((project / "docs" / "deploy.md").read_text(), "## A container")
    assert commands.splitlines()[0] == "docker build -t rooms-service ."
    with socket.socket() as probe:  # the documented port; the commands bind it on loopback only
        probe.bind(("127.0.0.1", 8000))
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(DOCKER_SHIM.format(ca=podman.CA_BUNDLE, base=base_image))
    shim.chmod(0o755)
    environment = {**podman.environment(), "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", commands],
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        podman.podman("rm", "--force", "--time", "0", "rooms-service", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r'\{"status":"ok","connections":0,"rooms":0\}', result.stdout), result.stdout
