"""The demo page in a real browser: Debian's Chromium driven by Playwright against a running service.

The renders of :data:`~tests.matrix.BROWSER` (every style, and every pair of page kind, transport
mode and auth) are served with their own run command (``python -m <package>``, what ``uv run
<package>`` runs) on a free loopback port, by tests/harness.py; the pages come from that service,
so the socket's Origin rule admits them with no setting. One Chromium per xdist worker, one
service per variant, a fresh browser context (phone-sized) per test.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it): Playwright
never downloads a browser here.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from . import harness
from .matrix import BROWSER, STYLES, Variant
from .renders import Renders, service_env

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
"""Debian's chromium; GitHub's runners set ``CHROMIUM`` to their preinstalled Chrome."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Flags for this machine (/work/.library/env/machines/python.md): root, no GPU, no network."""

TIMEOUT_MS = 15_000
"""Upper bound for any awaited page event; a restart plus backoff fits well inside it."""
expect.set_options(timeout=TIMEOUT_MS)

TOKEN = "browser-token"
PHONE = {"width": 390, "height": 844}

TOKEN_BROWSER = [variant for variant in BROWSER if variant.token_auth]


class Service:
    """A render served by its run command on 127.0.0.1; restartable on the same port."""

    def __init__(self, project: Path, variant: Variant, redis_url: str | None) -> None:
        self.command = [sys.executable, "-m", variant.package_name, "--host", "127.0.0.1"]
        self.options: dict[str, object] = {
            "cwd": project,
            "env": service_env(
                PYTHONPATH=str(project / "src"),
                **({"WS_AUTH_TOKENS": TOKEN} if variant.token_auth else {}),
                **({"WS_REDIS_URL": redis_url} if redis_url else {}),
            ),
            "name": variant.id,
        }
        self.running = harness.start(self.command, **self.options)  # type: ignore[arg-type]
        self.port = self.running.port
        self.base = self.running.http

    def restart(self) -> None:
        """Stop as an operator's Ctrl+C does (uvicorn sends 1012 to every client), then start again."""
        self.stop()
        self.running = harness.start(self.command, port=self.port, **self.options)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.running.stop()
        self.running.log.unlink(missing_ok=True)

    def health(self) -> dict[str, object]:
        return self.running.health()


@pytest.fixture(scope="session")
def services(renders: Renders, request: pytest.FixtureRequest) -> Iterator[Callable[[Variant], Service]]:
    """One running service per variant and xdist worker, stopped at the end of the session."""
    running: dict[Variant, Service] = {}

    def get(variant: Variant) -> Service:
        if variant not in running:
            redis_url = request.getfixturevalue("redis_url") if variant.redis else None
            running[variant] = Service(renders(variant), variant, redis_url)
        return running[variant]

    yield get
    for service in running.values():
        service.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does), or set CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Pages:
    """Phone-sized pages in one fresh browser context, with every console error recorded."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport=PHONE)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []

    def open(self, url: str) -> Page:
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.goto(url)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def script_errors(self, *expected: str) -> list[str]:
        """Console errors but Chromium's report of a WebSocket that could not connect and ``expected``."""
        return [error for error in self.errors if not error.startswith(("WebSocket connection to", *expected))]


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    pages = Pages(browser)
    yield pages
    pages.context.close()


RECORD_CLOSES = """() => {
    window.closesSeen = [];
    const target = document.getElementById("last-close");
    new MutationObserver(() => window.closesSeen.push(target.textContent)).observe(target, { childList: true });
}"""
"""Script recording every close the status line shows, for a test that outlives several of them."""


def messages(page: Page) -> list[str]:
    return page.locator("#log li.message").all_inner_texts()


def connect(page: Page, auth: str, token: str = TOKEN) -> None:
    """Connect (the page connects by itself without auth) and wait until the socket is open."""
    if auth == "token":
        page.fill("#token", token)
        page.click("#connect" if page.locator("#connect").count() else "#subscribe")
    expect(page.locator("#state")).to_have_text("open")


def join(page: Page, room: str, members: int) -> None:
    """Join ``room``; the page shows the ``members`` count of its ``joined``."""
    page.fill("#room", room)
    page.press("#room", "Enter")  # keyboard: the form submits on Enter
    expect(page.locator("#rooms li", has_text=room)).to_have_text(f"{room} ({members} on joining)")


def presence(page: Page, room: str) -> Locator:
    """The page's line of who is in ``room`` (from ``who``, then member_joined and member_left)."""
    return page.locator(f"#members li[data-room='{room}']")


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def enter_room(pages: Pages, service: Service, style: str, auth: str) -> tuple[Page, Page]:
    """Two pages of the service in room ``lobby`` (a feed subscription for the stream style).

    ``joined`` counts the room's distinct senders (the contract's presence): without auth each page
    is a sender of its own, with a token both are its one user, so the second page's count is 1.
    """
    first, second = pages.open(service.base + "/"), pages.open(service.base + "/")
    for count, page in enumerate((first, second), start=1):
        connect(page, auth)
        if style == "stream":
            expect(page.locator("#feed")).to_have_text("lobby")
        else:
            join(page, "lobby", 1 if auth == "token" else count)
    return first, second


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.tier3
@pytest.mark.variants(BROWSER)
def test_two_pages_in_one_room_exchange_messages_in_seq_order(
    services: Callable[[Variant], Service], pages: Pages, tmp_path_factory: pytest.TempPathFactory, variant: Variant
) -> None:
    service, style, mode, auth = services(variant), variant.interface_style, variant.transport_mode, variant.auth
    alice, bob = enter_room(pages, service, style, auth)
    alice.fill("#name", "alice")
    bob.fill("#name", "bob")
    for count, (page, text) in enumerate([(alice, "one"), (bob, "two"), (alice, "three")], start=1):
        say(page, text)
        for reader in (alice, bob):
            expect(reader.locator("#log li.message")).to_have_count(count)
    seen = [messages(page) for page in (alice, bob)]
    assert seen[0] == seen[1]
    seqs = [int(line.split("#", 1)[1].split(" ", 1)[0]) for line in seen[0]]
    assert seqs == list(range(seqs[0], seqs[0] + 3)), seen[0]
    assert [line.split(": ", 1)[1] for line in seen[0]] == ["alice: one", "bob: two", "alice: three"]
    if style == "stream":
        assert all(" http: " in line for line in seen[0])
    else:
        senders = [line.split(" ", 2)[2].split(": ", 1)[0] for line in seen[0]]
        assert senders[0] == senders[2]
        # Without auth each connection is a sender of its own; with a token, both pages are its one user.
        assert (senders[1] == senders[0]) == (auth == "token")
        # Both pages list the room's distinct senders: bob's from `who`, alice's from bob's member_joined
        # (none with a token: a second tab of the same user is no new member).
        for page in (alice, bob):
            expect(presence(page, "lobby")).to_have_text(f"lobby: {', '.join(sorted(set(senders)))}")
        arrivals = [f"lobby: {senders[1]} arrived"] if auth == "none" else []
        assert alice.locator("#log li.info", has_text="arrived").all_inner_texts() == arrivals
        assert bob.locator("#log li.info", has_text="arrived").all_inner_texts() == []
    path = screenshot_dir(tmp_path_factory) / f"{style}-{mode}.png"
    alice.screenshot(path=str(path), full_page=True)
    print(f"screenshot of the {style} page: {path}")
    assert pages.script_errors() == []


@pytest.mark.tier3
@pytest.mark.variants(BROWSER)
def test_an_invalid_frame_shows_its_error_and_the_connection_stays_open(
    services: Callable[[Variant], Service], pages: Pages, variant: Variant
) -> None:
    service, style, auth = services(variant), variant.interface_style, variant.auth
    page = pages.open(service.base + "/")
    connect(page, auth)
    if style == "stream":
        # Feed clients never send: the invalid input is an empty post, refused with 400.
        expect(page.locator("#feed")).to_have_text("lobby")
        say(page, "")
        expect(page.locator("#log li.error")).to_contain_text("error 400")
        expected_errors: tuple[str, ...] = ("Failed to load resource: the server responded with a status of 400",)
    else:
        page.click("summary")
        for frame, code in (('{"type":"bogus"}', "invalid_message"), ("not json", "invalid_json")):
            page.fill("#raw", frame)
            page.press("#raw", "Enter")
            expect(page.locator("#log li.error").last).to_contain_text(f"error {code}:")
        page.fill("#raw", '{"type":"ping","id":"after"}')
        page.press("#raw", "Enter")
        expect(page.locator("#log li.info").last).to_have_text("pong after")
        expected_errors = ()
    expect(page.locator("#state")).to_have_text("open")
    assert pages.script_errors(*expected_errors) == []


@pytest.mark.tier3
@pytest.mark.variants(BROWSER)
def test_a_server_restart_is_followed_by_reconnect_and_rejoin(
    services: Callable[[Variant], Service], pages: Pages, variant: Variant
) -> None:
    service, style, auth = services(variant), variant.interface_style, variant.auth
    alice, bob = enter_room(pages, service, style, auth)
    for page in (alice, bob):
        page.evaluate(RECORD_CLOSES)
    service.restart()
    for page in (alice, bob):
        expect(page.locator("#state")).to_have_text("open")
        if style == "stream":
            expect(page.locator("#log li.info", has_text="subscribed to lobby")).to_have_count(2)
        else:
            expect(page.locator("#log li.info", has_text="joined lobby")).to_have_count(2)
    for page in (alice, bob):
        shown = page.evaluate("window.closesSeen")
        closes = [close for index, close in enumerate(shown) if index == 0 or close != shown[index - 1]]
        # 1012 from uvicorn, then 1006 for any attempt while the port was closed; never a 1000.
        assert closes[0] == "1012 server restarting", closes
        assert set(closes[1:]) <= {"1006 connection lost"}, closes
    say(alice, "after the restart")
    for page in (alice, bob):
        expect(page.locator("#log li.message")).to_have_count(1)
        expect(page.locator("#log li.message")).to_contain_text("after the restart")
    assert pages.script_errors() == []


@contextlib.contextmanager
def foreign_origin(html: str) -> Iterator[str]:
    """Serve ``html`` from another origin on loopback (another port); yield its URL.

    A real loopback server, not a routed fake: Chromium's Local Network Access checks block a
    public-looking origin from reaching 127.0.0.1 before the service could refuse it.
    """
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            thread.join()


@pytest.mark.tier3
@pytest.mark.variants(BROWSER)
def test_a_page_from_another_origin_is_refused(
    services: Callable[[Variant], Service], pages: Pages, variant: Variant
) -> None:
    service, style = services(variant), variant.interface_style
    path = "/ws/rooms/lobby" if style == "stream" else "/ws"
    foreign = (
        "<!doctype html><title>elsewhere</title><script>"
        f"const ws = new WebSocket('ws://127.0.0.1:{service.port}{path}');"
        "ws.onopen = () => { document.title = 'opened'; };"
        "ws.onclose = (event) => { document.title = 'closed ' + event.code; };"
        "</script>"
    )
    with foreign_origin(foreign) as url:
        page = pages.open(url)
        expect(page).to_have_title("closed 1006")  # a refused handshake is 1006 to a page
    assert [error for error in pages.errors if error.endswith("Unexpected response code: 403")], pages.errors
    assert service.health()["connections"] == 0


@pytest.mark.tier3
@pytest.mark.variants(TOKEN_BROWSER)
def test_a_wrong_token_shows_the_refusal_and_the_right_one_connects(
    services: Callable[[Variant], Service], pages: Pages, variant: Variant
) -> None:
    service, style, auth = services(variant), variant.interface_style, variant.auth
    page = pages.open(service.base + "/")
    socket_urls: list[str] = []
    page.on("websocket", lambda ws: socket_urls.append(ws.url))
    expect(page.locator("#state")).to_have_text("closed")  # nothing happens before a token is given
    page.fill("#token", "wrong")
    page.press("#token", "Enter")
    expect(page.locator("#last-close")).to_contain_text("4401 token refused")
    expect(page.locator("#log li.error")).to_contain_text("token refused")
    expect(page.locator("#state")).to_have_text("closed")  # no reconnect after 4401
    connect(page, auth)
    if style == "stream":
        expect(page.locator("#feed")).to_have_text("lobby")
    else:
        join(page, "lobby", 1)
    assert pages.script_errors() == []
    # The token travels in Sec-WebSocket-Protocol: never in a URL, where proxies log it.
    assert len(socket_urls) >= 2
    assert not [url for url in socket_urls if "wrong" in url or "token" in url]


AUTH_DOC_SUBPROTOCOL_SNIPPET = re.compile(r"```js\n(?P<code>[^`]*base64url\.bearer\.[^`]*)```")
"""The render's docs/auth.md snippet that opens a socket with the token in ``Sec-WebSocket-Protocol``."""

TOKEN_BY_SUBPROTOCOL = """async ({ token, mode, ping, timeoutMs }) => {
    %(snippet)s
    ws.binaryType = "arraybuffer";
    return await new Promise((resolve, reject) => {
        const frames = [];
        let opened = false;
        const timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms`)), timeoutMs);
        ws.onopen = () => {
            opened = true;
            const frame = JSON.stringify({ type: "ping", id: "browser" });
            if (ping) ws.send(mode === "text" ? frame : new TextEncoder().encode(frame));
        };
        ws.onmessage = (event) => {
            const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
            frames.push({ kind: typeof event.data === "string" ? "text" : "binary", message: JSON.parse(text) });
            ws.close(1000);
        };
        ws.onclose = (event) => {
            clearTimeout(timer);
            resolve({ opened, protocol: ws.protocol, frames, code: event.code, reason: event.reason });
        };
    });
}"""
"""Page script: docs/auth.md's snippet, then one ping (duplex styles); resolves with what the page saw by the close."""


def open_with_token_subprotocol(page: Page, service: Service, doc: str, token: str, style: str, mode: str) -> object:
    """Run docs/auth.md's ``Sec-WebSocket-Protocol`` snippet as written in ``page``, against ``service``."""
    match = AUTH_DOC_SUBPROTOCOL_SNIPPET.search(doc)
    assert match, "docs/auth.md shows no snippet offering base64url.bearer.<token>"
    snippet = match["code"].replace("ws://HOST", f"ws://127.0.0.1:{service.port}")
    assert snippet != match["code"], "the snippet connects to ws://HOST"
    script = TOKEN_BY_SUBPROTOCOL % {"snippet": snippet.strip().replace("\n", "\n    ")}
    return page.evaluate(script, {"token": token, "mode": mode, "ping": style != "stream", "timeoutMs": TIMEOUT_MS})


@pytest.mark.tier3
@pytest.mark.variants(TOKEN_BROWSER)
def test_a_page_sends_its_token_as_a_subprotocol_as_the_docs_show(
    services: Callable[[Variant], Service], pages: Pages, variant: Variant, project: Path
) -> None:
    """A browser cannot set headers on a WebSocket: it offers ``rooms`` and ``base64url.bearer.<token>``.

    The right token gets the first frame owed (a pong, or a stream's ``subscribed`` with the room's
    epoch and last ``seq``) with ``rooms`` selected; a wrong one is accepted, then closed with 4401
    before any other frame.
    """
    service, style, mode = services(variant), variant.interface_style, variant.transport_mode
    auth_doc = (project / "docs" / "auth.md").read_text()
    page = pages.open(service.base + "/")
    first: dict[str, object] = {"type": "pong", "id": "browser"}
    if style == "stream":
        # A post first: the room then has a message, so its epoch and seq stay put until the feed subscribes.
        posted = httpx.post(
            f"{service.base}/rooms/lobby/messages",
            json={"text": "before the feed"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=TIMEOUT_MS / 1000,
        )
        body = posted.json()
        assert (posted.status_code, sorted(body), body["room"]) == (202, ["epoch", "room", "seq"], "lobby"), body
        first = {"type": "subscribed", "room": "lobby", "epoch": body["epoch"], "seq": body["seq"]}
    assert open_with_token_subprotocol(page, service, auth_doc, TOKEN, style, mode) == {
        "opened": True,
        "protocol": "rooms",
        "frames": [{"kind": mode, "message": first}],
        "code": 1000,
        "reason": "",
    }
    assert open_with_token_subprotocol(page, service, auth_doc, "wrong", style, mode) == {
        "opened": True,
        "protocol": "rooms",
        "frames": [],
        "code": 4401,
        "reason": "missing or invalid token",
    }
    assert pages.script_errors() == []


@pytest.mark.tier1
def test_every_style_and_both_pages_are_driven_in_the_browser() -> None:
    """Every style's endpoint serves a browser; the rooms and the feed page each run with a token."""
    assert {variant.interface_style for variant in BROWSER} == set(STYLES)
    assert {variant.duplex for variant in TOKEN_BROWSER} == {True, False}


@pytest.mark.tier1
def test_without_the_demo_page_the_app_serves_none_and_the_readme_offers_none(renders: Renders) -> None:
    """The rest of a render without the page (its files, lint, types, suite) is tiers 1 and 2's."""
    project = renders(Variant(demo_page=False))
    assert "static" not in (project / "src" / Variant().package_name / "app.py").read_text()
    assert "/asyncapi.json" in (project / "README.md").read_text()
    assert "<http://127.0.0.1:8000/>" not in (project / "README.md").read_text()
