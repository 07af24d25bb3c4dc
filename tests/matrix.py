"""The answer space the template's tests cover, and which answer sets each tier takes from it.

Five answers change what a service is made of: ``interface_style`` (5 choices),
``transport_mode`` (2), ``auth`` (2), ``broker`` (2) and ``demo_page`` (2), 80 answer sets in
all. ``python_version`` stays at its default (a tier 1 test shows the other versions change only
metadata), and so do the metadata answers. The tiers:

- **tier 1** renders all 80 with each name of :data:`TIER1_NAMES` and checks what is cheap to
  check on every render (layout, text hygiene, ruff, mypy, import and a smoke exchange);
- **tier 2** runs the full generated suite on :data:`COVERING`, the pairwise covering set;
- **tier 3** runs each slow real-world check on the fewest answer sets that cover what it checks
  (the sets at the end of this module, each with its rule).

Every set here is computed from the choices by a stated rule, never listed by hand: adding a
choice to copier.yml (and to the tuples below) changes every set that should change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from allpairspy import AllPairs

STYLES = ("low_level", "listener", "class_based", "stream", "combined")
"""``interface_style`` choices, in copier.yml's order (tests/test_workflows.py keeps them in step)."""
MODES = ("text", "binary")
AUTHS = ("none", "token")
BROKERS = ("memory", "redis")
DEMO_PAGE = (True, False)

PYTHON_VERSIONS: tuple[str, ...] = tuple(
    yaml.safe_load((Path(__file__).resolve().parent.parent / "copier.yml").read_text())["python_version"]["choices"]
)
"""``python_version`` choices, the default first; the matrix renders with the default only."""

DEFAULT_PACKAGE = "rooms_service"
"""``package_name`` as derived from the default ``project_name``."""

TIER1_NAMES = {"short": "x", "long": "rooms_service_for_the_night_shift_at_abc"}
"""Tier 1 renders every answer set with each of these package names (by the label test ids carry):
the shortest valid name and a 40-character one. A line whose wrapping depends on the name's length
fails ``ruff format --check`` with one of them."""


@dataclass(frozen=True)
class Variant:
    """One answer set, under copier.yml's names; what a render depends on.

    ``package_name`` is part of it: the same answers with another name are another render.
    """

    interface_style: str = "listener"
    transport_mode: str = "text"
    auth: str = "none"
    broker: str = "memory"
    demo_page: bool = True
    package_name: str = DEFAULT_PACKAGE

    @property
    def answers(self) -> dict[str, str | bool]:
        """The answers, as Copier's ``data``."""
        return dataclasses.asdict(self)

    @property
    def duplex(self) -> bool:
        """Every style but ``stream`` serves the duplex protocol at ``/ws``."""
        return self.interface_style != "stream"

    @property
    def token_auth(self) -> bool:
        return self.auth == "token"

    @property
    def redis(self) -> bool:
        return self.broker == "redis"

    @property
    def socket_path(self) -> str:
        """Where a client connects: the duplex endpoint, or the ``lobby`` feed of the stream style."""
        return "/ws" if self.duplex else "/ws/rooms/lobby"

    @property
    def id(self) -> str:
        """``listener-text-none-memory-page``; a tier 1 name's label goes first (``short-listener-...``)."""
        parts = [self.interface_style, self.transport_mode, self.auth, self.broker]
        parts.append("page" if self.demo_page else "nopage")
        if self.package_name != DEFAULT_PACKAGE:
            labels = {name: label for label, name in TIER1_NAMES.items()}
            parts.insert(0, labels.get(self.package_name, self.package_name))
        return "-".join(parts)

    def replace(self, **answers: str | bool) -> Variant:
        """This variant with ``answers`` changed."""
        return dataclasses.replace(self, **answers)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.id


FACTORS: dict[str, Sequence[str | bool]] = {
    "interface_style": STYLES,
    "transport_mode": MODES,
    "auth": AUTHS,
    "broker": BROKERS,
    "demo_page": DEMO_PAGE,
}
"""The answers a variant varies (``package_name`` apart), with their choices."""


def every_answer_set(package_name: str = DEFAULT_PACKAGE) -> list[Variant]:
    """All 80 answer sets, each differing from the one before it in exactly one answer.

    The order is a reflected mixed-radix Gray code over :data:`FACTORS`: walked in it, a type
    checker that keeps its state between renders re-checks only what one answer changes.
    """
    rows: list[tuple[str | bool, ...]] = [()]
    for choices in FACTORS.values():
        rows = [
            (*row, value)
            for index, row in enumerate(rows)
            for value in (choices if index % 2 == 0 else tuple(reversed(choices)))
        ]
    return [Variant(**dict(zip(FACTORS, row, strict=True)), package_name=package_name) for row in rows]  # type: ignore[arg-type]


TYPECHECK_BLOCKS = 2
"""Tier 1's type check walks the answer sets in this many contiguous stretches of the Gray-code
order, side by side (one per xdist worker on two cores), each with its own mypy cache."""


def typecheck_walks(names: Sequence[str]) -> list[list[Variant]]:
    """The answer sets tier 1 type-checks, as walks each run in order with one mypy cache.

    Every answer set is type-checked once, with one of ``names``: the Gray-code order is cut into
    ``max(TYPECHECK_BLOCKS, len(names))`` stretches, and stretch ``i`` uses ``names[i % len(names)]``.
    A package's name changes mypy's verdict only through a clash with another identifier, so
    the same answers under the other name would repeat the same check (at a second each).
    """
    order = every_answer_set()
    blocks = max(TYPECHECK_BLOCKS, len(names))
    return [
        [
            variant.replace(package_name=names[block % len(names)])
            for variant in order[block * len(order) // blocks : (block + 1) * len(order) // blocks]
        ]
        for block in range(blocks)
    ]


def pairwise(factors: dict[str, Sequence[str | bool]], already: Iterable[Variant] = ()) -> list[dict[str, str | bool]]:
    """Rows that, with ``already``, put each value of every factor next to each value of every other.

    allpairspy's greedy algorithm: deterministic, so the same choices always give the same rows.
    """
    names = list(factors)
    previously = [[getattr(variant, name) for name in names] for variant in already]
    rows = AllPairs([list(factors[name]) for name in names], previously_tested=previously or None)
    return [dict(zip(names, row, strict=True)) for row in rows]


def covering(package_name: str = DEFAULT_PACKAGE) -> list[Variant]:
    """The pairwise covering set of the 80 answer sets, with ``package_name``."""
    return [Variant(**row, package_name=package_name) for row in pairwise(FACTORS)]  # type: ignore[arg-type]


COVERING = covering()
"""Tier 2: every value of each answer beside every value of every other, in the fewest rows
allpairspy finds (10, the least possible: 5 styles x 2 modes). So every style x mode pair is
here, and every value of ``auth``, ``broker`` and ``demo_page`` appears on every style. The other
70 answer sets rely on tier 1 (every render linted, type-checked, imported and smoke-tested)
and on tests/test_side_by_side.py, which shows that an answer rewrites only its own files."""


def covering_first(needs: Iterable[dict[str, str | bool]], base: Variant = Variant()) -> list[Variant]:
    """One variant per answer constraint in ``needs``: the first of :data:`COVERING` that meets it,
    else ``base`` with those answers. A variant meeting several constraints serves them all."""
    chosen: list[Variant] = []
    for need in needs:
        if any(_meets(variant, need) for variant in chosen):
            continue
        found = [variant for variant in COVERING if _meets(variant, need)]
        chosen.append(found[0] if found else base.replace(**need))
    return chosen


def _meets(variant: Variant, answers: dict[str, str | bool]) -> bool:
    return all(getattr(variant, name) == value for name, value in answers.items())


def _browser_set() -> list[Variant]:
    """Tier 3's Chromium renders: :data:`COVERING`'s rows with the demo page, then as few more
    as make every pair of page kind (duplex or stream), transport mode and auth appear.

    The page's code depends on those three (the stream style serves the feed page, the others
    the rooms page); the server behind it on the style, which COVERING's page rows cover once
    each. Added rows take the first style of their kind and the other answers' defaults.
    """
    with_page = [variant for variant in COVERING if variant.demo_page]
    kinds = {"duplex": next(style for style in STYLES if style != "stream"), "stream": "stream"}
    factors: dict[str, Sequence[str | bool]] = {"kind": tuple(kinds), "transport_mode": MODES, "auth": AUTHS}

    @dataclass(frozen=True)
    class Page:
        kind: str
        transport_mode: str
        auth: str

    seen = [Page("duplex" if v.duplex else "stream", v.transport_mode, v.auth) for v in with_page]
    added = []
    for row in pairwise(factors, seen):  # type: ignore[arg-type]
        page = Page(**row)  # type: ignore[arg-type]
        if page in seen:
            continue
        seen.append(page)
        added.append(Variant(interface_style=kinds[page.kind], transport_mode=page.transport_mode, auth=page.auth))
    return with_page + added


BROWSER = _browser_set()
"""Tier 3, tests/test_page.py: every style once, and every pair of page kind, mode and auth."""

SOAK = [Variant(interface_style=style) for style in STYLES]
"""Tier 3, tests/test_soak.py: each style once (what leaks is the connection's life, which the
style's endpoint drives); the other answers at their defaults."""

IMAGE_DUPLEX = Variant(broker="redis")
"""Tier 3, tests/test_containers.py: a duplex image with Redis (two replicas share one)."""
IMAGE_STREAM = Variant(interface_style="stream")
"""The stream style's image; the deploy commands of its docs/deploy.md build and run this render
too, so podman's layer cache serves that build whole."""
