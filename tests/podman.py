"""Podman as the template's image tests run it on a machine without an image registry.

``/work/shared/notes``-style facts this module encodes (observed with podman 4.3 on Debian
bookworm, as root): crun fails there, so every call uses ``--runtime runc``; podman's default
ulimits cannot be set, so ``CONTAINERS_CONF`` points at ``tests/containers.conf``; no registry is
reachable, so the base image is built from Debian packages with ``debootstrap`` and stands in for
the official ``python:<version>-slim`` through the Dockerfile's ``BASE_IMAGE`` argument; builds
need the host network and the host's CA bundle for TLS to PyPI.

The base image is tagged with a hash of its recipe and kept between runs (a rebuild costs about a
minute); a file lock makes concurrent test processes build it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE / "containers.conf"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
SUITE = "bookworm"
"""Debian bookworm: its python3 is 3.11, the template's oldest python_version."""

BASE_CONTAINERFILE = f"""\
FROM localhost/copier-litestar-ws/debian:{SUITE}
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        python3 python3-venv ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
# uv reads the system trust store only when told to.
ENV UV_NATIVE_TLS=1 SSL_CERT_FILE={CA_BUNDLE}
"""

BASE_IMAGE = (
    "localhost/copier-litestar-ws/python:" + SUITE + "-" + hashlib.sha256(BASE_CONTAINERFILE.encode()).hexdigest()[:12]
)
"""The stand-in for ``python:3.11-slim-bookworm``; its tag changes with its recipe."""

LOCK = Path(tempfile.gettempdir()) / "copier-litestar-ws-podman-base.lock"


def missing_tools() -> list[str]:
    """The programs the image tests need that are not installed."""
    return [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]


def environment() -> dict[str, str]:
    """Our environment with podman's configuration for this machine."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``podman --runtime runc ARGS``; with ``check``, fail with its output on a non-zero exit."""
    result = subprocess.run(
        ["podman", "--runtime", "runc", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def image_exists(name: str) -> bool:
    """Whether the local store holds an image called ``name``."""
    return podman("image", "exists", name, check=False).returncode == 0


def build(context: Path, tag: str, *options: str, containerfile: Path | None = None, ca_bundle: bool = True) -> None:
    """``podman build`` of ``context`` as ``tag`` with the host network (and the host's CA bundle).

    ``--format docker`` keeps the Dockerfile's ``HEALTHCHECK`` (the OCI format has no field for it).
    The base image's own build goes without the bundle: installing ``ca-certificates`` writes
    that very file.
    """
    podman(
        "build",
        "--network",
        "host",
        "--format",
        "docker",
        *(["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if ca_bundle else []),
        *(["--file", str(containerfile)] if containerfile else []),
        "--tag",
        tag,
        *options,
        str(context),
        timeout=900,
    )


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_image() -> str:
    """The Python base image, built from Debian packages if the store does not have it yet."""
    with _locked():
        if image_exists(BASE_IMAGE):
            return BASE_IMAGE
        debian = f"localhost/copier-litestar-ws/debian:{SUITE}"
        with tempfile.TemporaryDirectory(prefix="copier-litestar-ws-base-") as scratch:
            if not image_exists(debian):
                rootfs = Path(scratch) / "rootfs"
                subprocess.run(
                    ["debootstrap", "--variant=minbase", SUITE, str(rootfs)],
                    capture_output=True,
                    check=True,
                    timeout=900,
                )
                with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
                    imported = subprocess.run(
                        ["podman", "--runtime", "runc", "import", "-", debian],
                        stdin=tar.stdout,
                        env=environment(),
                        capture_output=True,
                        check=False,
                        timeout=600,
                    )
                assert imported.returncode == 0, imported.stderr
                shutil.rmtree(rootfs)  # not part of the next build's context
            containerfile = Path(scratch) / "Containerfile"
            containerfile.write_text(BASE_CONTAINERFILE)
            build(Path(scratch), BASE_IMAGE, containerfile=containerfile, ca_bundle=False)
    return BASE_IMAGE


if __name__ == "__main__":
    # `python -m tests.podman`: build (or find) the base image ahead of a test run.
    print(base_image())
