"""What contract tests need that the Backend interface does not offer, one class per backend kind.

A test arranges state only through its harness (containers, volumes, a second backend object,
independent existence checks) or through the backend under test itself (`put` loads an archive with
`backend.load`). Everything a test creates is tracked and removed by `cleanup()`, so tests leave the
shared engine as they found it.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from imgtui.backends.base import Backend
from tests.conftest import BASE_REPO
from tests.contract.archives import LoadedImage, SourceArchive, variant

BASE_REF = f"{BASE_REPO}:latest"


@dataclass(frozen=True)
class ContainerRef:
    id: str
    name: str


@dataclass(frozen=True)
class Unreachable:
    """A backend that cannot work, and a fragment its error message should name."""

    make: Callable[[], Backend]
    where: str


class Harness(abc.ABC):
    """Arranges and cleans up state for one test on one backend."""

    kind: ClassVar[str]

    def __init__(
        self, backend: Backend, sources: Mapping[str, SourceArchive], repo: str, workdir: Path
    ) -> None:
        self.backend = backend
        self.sources = sources
        self.repo = repo  # every tag a test makes lives under this repository
        self.workdir = workdir
        self._images: list[str] = []
        self._backends: list[Backend] = [backend]

    # ---------------------------------------------------------------- images (backend-neutral)

    def ref(self, tag: str = "latest") -> str:
        return f"{self.repo}:{tag}"

    def put(
        self,
        name: str = "layered",
        tags: Sequence[str] = ("latest",),
        *,
        created: datetime | None = None,
        extra_layer: bool = False,
        labels: Mapping[str, str] | None = None,
        repo: str | None = None,
    ) -> LoadedImage:
        """Load a fresh variant of source image `name` (own id) via `backend.load`, tagged `tags`.

        `tags=()` loads it dangling. `extra_layer` adds a layer no other image has, so removing
        the image frees bytes. `created` back-dates it (for `until` filters).
        """
        refs = tuple(f"{repo or self.repo}:{t}" for t in tags)
        archive = self.workdir / f"put-{uuid.uuid4().hex[:8]}.tar"
        image = variant(
            self.sources[name],
            archive,
            refs,
            created=created,
            extra_layer=extra_layer,
            labels=labels,
        )
        list(self.backend.load(archive))
        self.track_image(image.id)
        archive.unlink()
        return image

    def track_image(self, image_id: str) -> None:
        """Remove this image at cleanup even if it carries no tag of the test's repository."""
        self._images.append(image_id)

    def new_backend(self) -> Backend:
        """Another backend object on the same engine/store, closed at cleanup."""
        b = self._make_backend()
        self._backends.append(b)
        return b

    # ---------------------------------------------------------------- per kind

    @abc.abstractmethod
    def _make_backend(self) -> Backend: ...

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """What `backend.info().location` must say."""

    @abc.abstractmethod
    def ensure_base(self) -> str:
        """Make sure the session base image is in the backend; return its ref."""

    @abc.abstractmethod
    def exists(self, ref: str) -> bool:
        """Whether an image is there, checked without the backend under test."""

    @abc.abstractmethod
    def container_using(self, image: str, command: Sequence[str] = ("true",)) -> ContainerRef:
        """A created (never started) container of `image`."""

    @abc.abstractmethod
    def running_container(self, image: str) -> ContainerRef:
        """A container of `image` that keeps running until cleanup."""

    @abc.abstractmethod
    def ran_container(self, image: str, script: str) -> ContainerRef:
        """A container of `image` that ran `sh -c script` to completion (exited 0)."""

    @abc.abstractmethod
    def container_exists(self, container_id: str) -> bool: ...

    @abc.abstractmethod
    def make_volume(self) -> str | None:
        """An unused named volume, or None when the backend has no volumes."""

    @abc.abstractmethod
    def volume_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def unreachable(self) -> dict[str, Unreachable]:
        """Backends of this kind that cannot reach their engine/store."""

    @abc.abstractmethod
    def wipe(self) -> None:
        """Remove everything from the engine/store (isolated harnesses only)."""

    def cleanup(self) -> None:
        for b in self._backends:
            with contextlib.suppress(Exception):
                b.close()


class DockerHarness(Harness):
    """The Docker SDK backend; arranging goes through a raw docker SDK client."""

    kind = "docker"

    def __init__(
        self,
        host: str,
        client: Any,
        sources: Mapping[str, SourceArchive],
        repo: str,
        workdir: Path,
    ) -> None:
        self.host = host
        self.client = client
        self._containers: list[str] = []
        self._volumes: list[str] = []
        super().__init__(self._make_backend(), sources, repo, workdir)

    def _make_backend(self) -> Backend:
        from imgtui.backends.docker_sdk import DockerBackend

        return DockerBackend(host=self.host)

    @property
    def location(self) -> str:
        return self.host

    def ensure_base(self) -> str:
        # Another test may have pruned it (prune -a on the shared engine): re-create it.
        if not self.exists(BASE_REF):
            with self.sources["base"].path.open("rb") as f:
                list(self.client.api.load_image(f))
        return BASE_REF

    def exists(self, ref: str) -> bool:
        import docker.errors

        try:
            self.client.api.inspect_image(ref)
        except docker.errors.NotFound:
            return False
        return True

    def _create(self, image: str, command: Sequence[str]) -> ContainerRef:
        name = f"imgtui-test-{uuid.uuid4().hex[:10]}"
        c = self.client.api.create_container(
            image,
            command=list(command),
            name=name,
            host_config=self.client.api.create_host_config(network_mode="none"),
        )
        self._containers.append(c["Id"])
        return ContainerRef(c["Id"], name)

    def container_using(self, image: str, command: Sequence[str] = ("true",)) -> ContainerRef:
        return self._create(image, command)

    def running_container(self, image: str) -> ContainerRef:
        c = self._create(image, ("sleep", "600"))
        self.client.api.start(c.id)
        return c

    def ran_container(self, image: str, script: str) -> ContainerRef:
        c = self._create(image, ("sh", "-c", script))
        self.client.api.start(c.id)
        status = self.client.api.wait(c.id, timeout=60)
        assert status["StatusCode"] == 0, self.client.api.logs(c.id)
        return c

    def container_exists(self, container_id: str) -> bool:
        import docker.errors

        try:
            self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return False
        return True

    def make_volume(self) -> str | None:
        name = f"imgtui-test-{uuid.uuid4().hex[:10]}"
        self.client.api.create_volume(name)
        self._volumes.append(name)
        return name

    def volume_exists(self, name: str) -> bool:
        import docker.errors

        try:
            self.client.api.inspect_volume(name)
        except docker.errors.NotFound:
            return False
        return True

    def unreachable(self) -> dict[str, Unreachable]:
        from imgtui.backends.docker_sdk import DockerBackend

        port = closed_port()
        return {
            "missing-socket": Unreachable(
                lambda: DockerBackend(host="unix:///nonexistent.sock", timeout=5),
                "/nonexistent.sock",
            ),
            "refused-tcp": Unreachable(
                lambda: DockerBackend(host=f"tcp://127.0.0.1:{port}", timeout=5),
                f"127.0.0.1:{port}",
            ),
        }

    def wipe(self) -> None:
        api = self.client.api
        for c in api.containers(all=True):
            api.remove_container(c["Id"], force=True, v=True)
        _remove_images(api, (i["Id"] for i in api.images(all=True)))
        api.prune_volumes()
        api.prune_builds()

    def cleanup(self) -> None:
        import docker.errors

        super().cleanup()
        api = self.client.api
        for cid in self._containers:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(cid, force=True, v=True)
        for name in self._volumes:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_volume(name, force=True)
        mine = set(self._images)
        for img in api.images(all=True):
            if any(self.repo in t for t in img.get("RepoTags") or ()):
                mine.add(img["Id"])
        _remove_images(api, mine)


def _remove_images(api: Any, ids: Iterable[str]) -> None:
    """Force-remove images, children before parents (a few passes), ignoring the gone ones."""
    import docker.errors

    pending = set(ids)
    for _ in range(5):
        if not pending:
            return
        for image_id in sorted(pending):
            try:
                api.remove_image(image_id, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:  # has children yet, or is used by a running container
                continue
            pending.discard(image_id)


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BuiltinHarness(Harness):
    """The built-in store; arranging goes through the Store API, never the backend's own answers."""

    kind = "builtin"

    def __init__(
        self, store_dir: Path, sources: Mapping[str, SourceArchive], repo: str, workdir: Path
    ) -> None:
        self.store_dir = store_dir
        self._containers: list[str] = []
        self._stops: list[tuple[Any, Any]] = []  # (cancel event, thread) of running containers
        super().__init__(self._make_backend(), sources, repo, workdir)

    def _make_backend(self) -> Backend:
        from imgtui.backends.builtin import BuiltinBackend

        return BuiltinBackend(self.store_dir)

    @property
    def location(self) -> str:
        return str(self.store_dir)

    def _store(self) -> Any:
        from imgtui.store.layout import Store

        return Store.open(self.store_dir)

    def ensure_base(self) -> str:
        if not self.exists(BASE_REF):
            list(self.backend.load(self.sources["base"].path))
        return BASE_REF

    def exists(self, ref: str) -> bool:
        from imgtui import reference
        from imgtui.store.images import FactsCache, stored_images

        store = self._store()
        index = store.read_index()
        try:
            name = reference.normalize(ref)
        except Exception:
            name = None
        if name is not None and index.get(name) is not None:
            return True
        hexpart = ref.removeprefix("sha256:")
        return any(
            i.id.removeprefix("sha256:").startswith(hexpart)
            for i in stored_images(index, FactsCache(store))
        )

    def container_using(self, image: str, command: Sequence[str] = ("true",)) -> ContainerRef:
        from imgtui.store import containers

        backend = self.backend
        cid = backend.create_container(image, command=command)  # type: ignore[attr-defined]
        self._containers.append(cid)
        return ContainerRef(cid, containers.find(self._store(), cid).name)

    def running_container(self, image: str) -> ContainerRef:
        """`sleep 600` in the sandbox, on a thread; cleanup cancels it."""
        import threading

        from imgtui.store import containers

        cancel = threading.Event()
        name = f"imgtui-test-{uuid.uuid4().hex[:10]}"
        failures: list[BaseException] = []

        def target() -> None:
            try:
                self.backend.run_container(  # type: ignore[attr-defined]
                    image, ["sleep", "600"], name=name, output=lambda _: None, cancel=cancel
                )
            except BaseException as e:
                failures.append(e)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._stops.append((cancel, thread))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(containers.ContainerError):
                record = containers.find(self._store(), name)
                if record.state == "running":
                    self._containers.append(record.id)
                    return ContainerRef(record.id, name)
            assert not failures, failures
            time.sleep(0.05)
        raise AssertionError(f"container {name} never started")

    def ran_container(self, image: str, script: str) -> ContainerRef:
        from imgtui.store import containers

        out: list[bytes] = []
        cid, code = self.backend.run_container(  # type: ignore[attr-defined]
            image, ["sh", "-c", script], output=out.append
        )
        assert code == 0, b"".join(out)
        self._containers.append(cid)
        return ContainerRef(cid, containers.find(self._store(), cid).name)

    def container_exists(self, container_id: str) -> bool:
        from imgtui.store import containers

        try:
            containers.find(self._store(), container_id)
        except containers.ContainerError:
            return False
        return True

    def make_volume(self) -> str | None:
        return None

    def volume_exists(self, name: str) -> bool:
        return False

    def unreachable(self) -> dict[str, Unreachable]:
        from imgtui.backends.builtin import BuiltinBackend

        blocker = self.workdir / "not-a-folder"
        blocker.write_text("a file where the store's parent folder should be\n")
        return {
            "file-in-the-way": Unreachable(
                lambda: BuiltinBackend(blocker / "store"), str(blocker / "store")
            ),
        }

    def wipe(self) -> None:
        import shutil

        shutil.rmtree(self.store_dir, ignore_errors=True)

    def cleanup(self) -> None:
        from imgtui.store import containers

        for cancel, thread in self._stops:
            cancel.set()
            thread.join(30)
        super().cleanup()
        store = self._store()
        for cid in self._containers:
            with contextlib.suppress(containers.ContainerError):
                containers.remove(store, containers.find(store, cid))
        from imgtui import reference

        with store.locked() as index:
            for name in list(index.named()):
                if reference.familiar(name).startswith(self.repo):
                    index.remove_name(name)
