"""Session-wide real services and images shared by every test module.

Base images are made once per session from the static busybox (Debian's busybox-static), since the
engine starts empty and nothing can be pulled from the internet.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services as svc

BUSYBOX = Path("/bin/busybox")
BASE_REPO = "imgtui-test/busybox"
APPLETS = ("sh", "ls", "cat", "echo", "mkdir", "rm", "touch", "true", "false", "sleep", "dd", "env")

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
    """A minimal rootfs: static busybox plus a few applet links and the usual folders."""
    if not BUSYBOX.exists() or shutil.which("busybox") is None:
        pytest.fail("static busybox missing (apt-get install busybox-static)", pytrace=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "root", "dev", "proc", "sys"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        data = BUSYBOX.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


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
