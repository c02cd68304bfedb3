"""The backend contract suite: the same cases run on every backend kind.

State
-----
* Images: the session builds a few images once on the test engine (`sources`) and saves them as
  `docker save` archives. A test puts images into the backend under test with `harness.put()`,
  which writes a variant of an archive with its own image id (a nonce label; optionally an extra
  random layer or an older `created`) tagged under the test's `unique_repo`, and loads it with
  `backend.load()`. No two tests share an image id, so removing or pruning one test's images never
  touches another's; only the (immutable) layers are shared.
* Containers, volumes and a second backend object come from the harness (the raw docker SDK for
  Docker). `harness.cleanup()` removes every container and volume it made and every image tagged
  under the test's repository or put by the test.
* Destructive operations (`prune_images`, `system_prune`, `prune_build_cache`) delete whatever is
  unused engine-wide, other tests' images and containers included. Those tests use the `isolated`
  harness instead: for Docker a second private dockerd started once per session (per xdist
  worker) and wiped before each such test, so the shared engine and the session base image are
  never pruned. Set IMGTUI_TEST_SCRATCH_DOCKER_HOST to use an existing engine the tests may wipe.
  Without either, those tests fail with the reason (they never skip).

Adding a backend
----------------
Add its kind to BACKEND_KINDS and a branch in `make_harness` returning a Harness subclass
(see harness.py); every test then runs on it too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from imgtui.backends.base import Backend
from tests import services as svc
from tests.contract.archives import SourceArchive, build_sources
from tests.contract.harness import BuiltinHarness, DockerHarness, Harness

# The one place a backend kind is added, with what it can do. A test marked
# `@pytest.mark.needs("run")` runs on every kind that has that capability, and only there.
BACKEND_KINDS = ("docker", "builtin")
CAPABILITIES = {
    # intermediate-images: the classic builder keeps each step as an untagged parent image
    # (`images -a`, rmi pruning parents). BuildKit keeps none, and neither does the built-in
    # builder, which follows BuildKit there: a cached step is a cache record, not an image.
    "docker": {
        "run",
        "build",
        "registry",
        "commit",
        "volumes",
        "build-cache",
        "intermediate-images",
    },
    # Daemonless: the registry client, the builder, and sandboxed run/commit.
    "builtin": {"registry", "build", "run", "commit"},
}

SCRATCH_ENV = "IMGTUI_TEST_SCRATCH_DOCKER_HOST"


@pytest.fixture(scope="session")
def sources(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Mapping[str, SourceArchive]:
    """The contract images, built once on the engine and saved: "base", "layered", "configured".

    `base_image` puts the session base image in the engine; the others are built FROM it.
    """
    return build_sources(docker_client, tmp_path_factory.mktemp("contract-sources"))


@pytest.fixture(scope="session")
def scratch_docker_host(docker_host: str) -> Iterator[str]:
    """A second private engine that destructive tests may wipe."""
    given = os.environ.get(SCRATCH_ENV)
    if given:
        yield given
        return
    services = svc.Services()
    services._tmp = Path(tempfile.mkdtemp(prefix="imgtui-scratch-"))
    try:
        svc.start_dockerd(services, services._tmp)
    except Exception as e:
        services.stop()
        pytest.fail(
            f"scratch docker engine unavailable: {e}; set {SCRATCH_ENV} to an engine "
            "the tests may wipe",
            pytrace=False,
        )
    assert services.docker_host is not None
    yield services.docker_host
    services.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each contract test runs once per backend kind that has every capability it needs."""
    if "backend_kind" not in metafunc.fixturenames:
        return
    needed = {m.args[0] for m in metafunc.definition.iter_markers("needs")}
    kinds = [k for k in BACKEND_KINDS if needed <= CAPABILITIES[k]]
    metafunc.parametrize("backend_kind", kinds)


@pytest.fixture(scope="session")
def builtin_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's shared built-in store (the builtin twin of the shared engine)."""
    return tmp_path_factory.mktemp("builtin-store") / "store"


def make_harness(
    kind: str,
    request: pytest.FixtureRequest,
    sources: Mapping[str, SourceArchive],
    repo: str,
    workdir: Path,
    *,
    isolated: bool,
) -> Harness:
    if kind == "docker":
        if isolated:
            import docker

            host = request.getfixturevalue("scratch_docker_host")
            client = docker.DockerClient(base_url=host, version="auto", timeout=120)
            request.addfinalizer(client.close)
        else:
            host = request.getfixturevalue("docker_host")
            client = request.getfixturevalue("docker_client")
        return DockerHarness(host, client, sources, repo, workdir)
    if kind == "builtin":
        store = (
            workdir / "isolated-store" if isolated else request.getfixturevalue("builtin_store_dir")
        )
        return BuiltinHarness(store, sources, repo, workdir)
    raise AssertionError(f"no harness for backend kind {kind!r}")


@pytest.fixture
def harness(
    backend_kind: str,
    request: pytest.FixtureRequest,
    sources: Mapping[str, SourceArchive],
    unique_repo: str,
    tmp_path: Path,
) -> Iterator[Harness]:
    """The backend under test on the shared engine/store, and what tests arrange on it."""
    h = make_harness(backend_kind, request, sources, unique_repo, tmp_path, isolated=False)
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def backend(harness: Harness) -> Backend:
    return harness.backend


@pytest.fixture
def isolated(
    backend_kind: str,
    request: pytest.FixtureRequest,
    sources: Mapping[str, SourceArchive],
    unique_repo: str,
    tmp_path: Path,
) -> Iterator[Harness]:
    """A harness whose engine/store holds nothing but what the test puts there."""
    h = make_harness(backend_kind, request, sources, unique_repo, tmp_path, isolated=True)
    h.wipe()
    try:
        yield h
    finally:
        h.cleanup()
