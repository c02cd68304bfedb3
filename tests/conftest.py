"""Session-wide real services and images shared by every test module.

Base images are made once per session from the static busybox (Debian's busybox-static), since the
engine starts empty and nothing can be pulled from the internet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services as svc

BASE_REPO = "imgtui-test/busybox"

_services: svc.Services | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _services
    if hasattr(config, "workerinput"):  # xdist worker: the controller started them
        return
    _services = svc.start()
    # xdist workers inherit the environment of the controller.
    if _services.docker_host:
        os.environ[svc.DOCKER_ENV] = _services.docker_host
    if _services.registry:
        os.environ[svc.REGISTRY_ENV] = _services.registry
    if _services.errors:
        os.environ[svc.ERROR_ENV] = " | ".join(_services.errors)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.stop()


def _need(env: str, what: str) -> str:
    value = os.environ.get(env)
    if not value:
        reason = os.environ.get(svc.ERROR_ENV, "not started")
        pytest.fail(f"{what} unavailable: {reason}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def docker_host() -> str:
    """URL of the private test engine, e.g. unix:///tmp/imgtui-test-…/docker.sock."""
    return _need(svc.DOCKER_ENV, "docker engine")


@pytest.fixture(scope="session")
def registry() -> str:
    """host:port of the loopback registry."""
    return _need(svc.REGISTRY_ENV, "registry")


@pytest.fixture(scope="session")
def docker_client(docker_host: str) -> Iterator[object]:
    """A raw docker SDK client for arranging test state (never used by the code under test)."""
    import docker

    client = docker.DockerClient(base_url=docker_host, version="auto", timeout=120)
    yield client
    client.close()


def busybox_rootfs_tar() -> bytes:
    """The session's base rootfs; a missing busybox fails the test, it never skips."""
    try:
        return svc.busybox_rootfs_tar()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """`imgtui-test/busybox:latest` in the engine; returns its id."""
    api = docker_client.api
    result = api.import_image_from_data(
        busybox_rootfs_tar(),
        repository=BASE_REPO,
        tag="latest",
        changes=['CMD ["sh"]', "ENV PATH=/bin"],
    )
    image = api.inspect_image(f"{BASE_REPO}:latest")
    assert image["Id"] in str(result)
    return str(image["Id"])


@pytest.fixture
def unique_repo() -> str:
    """A repository name no other test uses."""
    return f"imgtui-test/t{uuid.uuid4().hex[:10]}"


def build_image(docker_client, context: Path, tag: str, dockerfile: str) -> str:
    """Build `dockerfile` in `context` with no network; returns the image id."""
    (context / "Dockerfile").write_text(dockerfile)
    image, _ = docker_client.images.build(
        path=str(context), tag=tag, network_mode="none", rm=True, forcerm=True
    )
    return str(image.id)


@pytest.fixture(scope="session")
def docker_bin() -> str:
    """The docker client binary the comparisons run."""
    try:
        return svc.newest_docker_client()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def docker_cli(docker_bin: str, docker_host: str):
    """Run the real docker CLI against the test engine."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": docker_host}
        env.pop("DOCKER_CONTEXT", None)
        return subprocess.run(
            [docker_bin, *args], env=env, capture_output=True, text=True, check=check
        )

    return run


@pytest.fixture(scope="session")
def imgtui_cli(docker_host: str):
    """Run imgtui's CLI in a fresh process against the test engine, as a user would."""

    def run(
        *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return subprocess.run(
            [sys.executable, "-m", "imgtui", "-H", docker_host, *args],
            env=env,
            capture_output=True,
            text=True,
            check=check,
            input=input,
        )

    return run
