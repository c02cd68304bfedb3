"""The one interface every backend implements, and the plain data that crosses it.

The CLI and the TUI see only what is defined here: frozen dataclasses and the
BackendError hierarchy. No docker SDK object and no store path leaks through,
so the built-in store can stand behind the very same contract tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imgtui.analysis.model import AnalysisProgress, ImageAnalysis

# --------------------------------------------------------------------------- errors


class BackendError(Exception):
    """Base of every error a backend raises; str() is one line shown to the user."""

    exit_code = 1


class ImageNotFound(BackendError):
    """The image, tag or container named does not exist."""


class ContainerNotFound(BackendError):
    """The container named does not exist."""


class Conflict(BackendError):
    """The operation would break something that uses the object (image in use, tag exists)."""


class InvalidReference(BackendError):
    """A reference that docker's grammar refuses; the message says why."""

    exit_code = 2


class InvalidArgument(BackendError):
    """Bad input other than a reference: a filter, a build option, a malformed archive."""

    exit_code = 2


class BackendUnavailable(BackendError):
    """The daemon or store cannot be reached at all."""


class AuthError(BackendError):
    """The registry refused our credentials, or asked for some we do not have."""


class RegistryError(BackendError):
    """The registry failed or could not be reached."""


class BuildError(BackendError):
    """A build step failed; the message carries the step and the daemon's reason."""


class Unsupported(BackendError):
    """This backend cannot do that (e.g. build cache on a daemon too old)."""


# --------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """One image as `docker images` sees it; one object per image, however many tags."""

    id: str  # config digest, "sha256:<64 hex>"
    repo_tags: tuple[str, ...]  # familiar "repo:tag"; empty when dangling
    repo_digests: tuple[str, ...]  # "repo@sha256:…"
    created: datetime  # timezone-aware
    size: int  # bytes, every layer of the image
    shared_size: int | None = None  # bytes shared with other images; None when not computed
    containers: int | None = None  # containers using it; None when not computed
    parent_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def dangling(self) -> bool:
        return not self.repo_tags

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    test: tuple[str, ...] = ()
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The runtime config of an image (the `Config` object of `docker image inspect`)."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()
    healthcheck: HealthCheck | None = None


@dataclass(frozen=True, slots=True)
class ImageDetail:
    """Everything `docker image inspect` knows, typed; `raw` is the inspect JSON itself."""

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: datetime
    size: int
    architecture: str
    os: str
    config: ImageConfig
    layers: tuple[str, ...]  # RootFS diff ids, bottom first
    variant: str = ""
    parent_id: str = ""
    comment: str = ""
    author: str = ""
    docker_version: str = ""
    # Shaped like one element of `docker image inspect`; what `imgtui inspect` prints.
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of `docker history`, newest first like docker prints them."""

    id: str  # image id of that step, or "<missing>" when the step is not a local image
    created: datetime | None
    created_by: str
    size: int
    comment: str = ""
    tags: tuple[str, ...] = ()
    empty_layer: bool = False


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    id: str
    names: tuple[str, ...]  # without docker's leading "/"
    image: str  # what the user asked for (a name or an id)
    image_id: str
    command: str
    created: datetime
    state: str  # created, running, paused, restarting, removing, exited, dead
    status: str  # docker's human text, e.g. "Exited (0) 2 minutes ago"
    size_rw: int | None = None
    size_root_fs: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.id[:12]

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "restarting")


# --------------------------------------------------------------------------- disk usage


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """An image's bytes split as `docker system df -v` does."""

    id: str
    repo_tags: tuple[str, ...]
    created: datetime
    size: int
    shared_size: int  # bytes in layers that other images also use
    containers: int

    @property
    def unique_size(self) -> int:
        return self.size - self.shared_size


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    id: str
    name: str
    image: str
    size_rw: int
    running: bool
    command: str = ""
    created: datetime | None = None
    status: str = ""
    local_volumes: int = 0


@dataclass(frozen=True, slots=True)
class VolumeUsage:
    name: str
    size: int  # -1 when the daemon did not measure it
    links: int


@dataclass(frozen=True, slots=True)
class BuildCacheUsage:
    id: str
    kind: str
    size: int
    in_use: bool
    shared: bool
    description: str = ""
    created: datetime | None = None
    last_used: datetime | None = None
    usage_count: int = 0


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """The figures of `docker system df`; the totals are derived the way docker derives them."""

    layers_size: int  # bytes of all image layers, each layer counted once
    images: tuple[ImageUsage, ...]
    containers: tuple[ContainerUsage, ...] = ()
    volumes: tuple[VolumeUsage, ...] = ()
    build_cache: tuple[BuildCacheUsage, ...] = ()

    @property
    def images_active(self) -> int:
        return sum(1 for i in self.images if i.containers > 0)

    @property
    def images_reclaimable(self) -> int:
        """Bytes freed if every image no container uses went (docker's RECLAIMABLE)."""
        used = sum(i.size - i.shared_size for i in self.images if i.containers > 0)
        return self.layers_size - used

    @property
    def containers_size(self) -> int:
        return sum(c.size_rw for c in self.containers)

    @property
    def containers_active(self) -> int:
        return sum(1 for c in self.containers if c.running)

    @property
    def containers_reclaimable(self) -> int:
        return sum(c.size_rw for c in self.containers if not c.running)

    @property
    def volumes_size(self) -> int:
        return sum(v.size for v in self.volumes if v.size > 0)

    @property
    def volumes_active(self) -> int:
        return sum(1 for v in self.volumes if v.links > 0)

    @property
    def volumes_reclaimable(self) -> int:
        return sum(v.size for v in self.volumes if v.links == 0 and v.size > 0)

    @property
    def build_cache_size(self) -> int:
        return sum(b.size for b in self.build_cache if not b.shared)

    @property
    def build_cache_active(self) -> int:
        return sum(1 for b in self.build_cache if b.in_use)

    @property
    def build_cache_reclaimable(self) -> int:
        return sum(b.size for b in self.build_cache if not b.in_use and not b.shared)


# --------------------------------------------------------------------------- removal and prune


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """docker's answer to rmi, in order: "Untagged: x" and "Deleted: sha256:…" lines."""

    untagged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    # The same, interleaved as the daemon reported them, for printing like docker.
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed and the bytes it gave back."""

    untagged: tuple[str, ...] = ()
    deleted_images: tuple[str, ...] = ()
    deleted_containers: tuple[str, ...] = ()
    deleted_volumes: tuple[str, ...] = ()
    deleted_build_cache: tuple[str, ...] = ()
    deleted_networks: tuple[str, ...] = ()
    space_reclaimed: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.untagged
            or self.deleted_images
            or self.deleted_containers
            or self.deleted_volumes
            or self.deleted_build_cache
            or self.deleted_networks
        )

    def __add__(self, other: PruneReport) -> PruneReport:
        return PruneReport(
            self.untagged + other.untagged,
            self.deleted_images + other.deleted_images,
            self.deleted_containers + other.deleted_containers,
            self.deleted_volumes + other.deleted_volumes,
            self.deleted_build_cache + other.deleted_build_cache,
            self.deleted_networks + other.deleted_networks,
            self.space_reclaimed + other.space_reclaimed,
        )


# --------------------------------------------------------------------------- progress events


@dataclass(frozen=True, slots=True)
class LayerProgress:
    """Pull/push progress of one layer; `current`/`total` are bytes when known."""

    layer: str  # short layer id as docker prints it
    status: str  # "Pulling fs layer", "Downloading", "Pull complete", "Pushed", …
    current: int | None = None
    total: int | None = None
    rate: float | None = None  # bytes per second over the last seconds, when measured


@dataclass(frozen=True, slots=True)
class StatusLine:
    """A line of prose from a long operation ("Digest: …", "Status: …", "Loaded image: …")."""

    text: str


@dataclass(frozen=True, slots=True)
class BuildLog:
    """A chunk of build output, as the builder wrote it (may hold several lines)."""

    text: str


@dataclass(frozen=True, slots=True)
class BuildStep:
    """The builder started step `index` of `total`: `instruction` is the Dockerfile line."""

    index: int
    total: int
    instruction: str


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The build finished and produced `image_id`, tagged `tags`."""

    image_id: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BytesProgress:
    """Save/load progress in bytes."""

    done: int
    total: int | None = None


ProgressEvent = LayerProgress | StatusLine | BuildLog | BuildStep | BuildResult | BytesProgress


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """Something changed that the image list should reflect (docker's event stream)."""

    kind: Literal["image", "container", "builder", "other"]
    action: str  # "tag", "untag", "delete", "pull", "create", "destroy", …
    id: str
    time: datetime | None = None


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class ImageFilter:
    """`docker images --filter`: all given conditions must hold."""

    dangling: bool | None = None
    labels: tuple[str, ...] = ()  # "key" or "key=value"
    references: tuple[str, ...] = ()  # patterns as docker takes them: "busybox", "ubuntu:2*"
    before: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class BuildOptions:
    context: Path
    dockerfile: str | None = None  # relative to the context unless absolute
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict, hash=False)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    network_mode: str | None = None  # "none", "host", …; None = backend default
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """Which backend answered and where: shown in the CLI and the TUI header."""

    name: str  # "docker" or "builtin"
    location: str  # "unix:///var/run/docker.sock", "ssh://host", a store folder
    version: str = ""
    context: str = ""


# --------------------------------------------------------------------------- the interface


@runtime_checkable
class Backend(Protocol):
    """Blocking calls: the TUI runs them in thread workers, never on the event loop."""

    name: str

    def info(self) -> BackendInfo: ...

    def images(
        self, *, all: bool = False, filters: ImageFilter | None = None
    ) -> list[ImageSummary]: ...

    def inspect(self, ref: str) -> ImageDetail: ...

    def history(self, ref: str) -> list[HistoryEntry]: ...

    def original_dockerfile(self, ref: str) -> str | None:
        """The Dockerfile the image was built from when the backend kept it, else None."""
        ...

    def tag(self, source: str, target: str) -> None: ...

    def remove(self, ref: str, *, force: bool = False, no_prune: bool = False) -> RemoveResult: ...

    def prune_images(self, *, all: bool = False, until: str | None = None) -> PruneReport: ...

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport: ...

    def prune_build_cache(self, *, all: bool = False) -> PruneReport: ...

    def disk_usage(self) -> DiskUsage: ...

    def build(self, options: BuildOptions) -> Iterator[ProgressEvent]: ...

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]: ...

    def push(self, ref: str) -> Iterator[ProgressEvent]: ...

    def save(self, refs: Sequence[str], dest: Path) -> Iterator[ProgressEvent]: ...

    def load(self, source: Path) -> Iterator[ProgressEvent]: ...

    def containers(self, *, all: bool = False) -> list[ContainerSummary]: ...

    def commit(
        self,
        container: str,
        ref: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: Sequence[str] = (),
        pause: bool = True,
    ) -> str: ...

    def run_container(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        name: str | None = None,
        tty: bool = False,
        network: str = "none",
        remove: bool = False,
        output: Callable[[bytes], None] | None = None,
        cancel: Any = None,
    ) -> tuple[str, int]:
        """docker run: (container id, exit code); `output` gets the streamed output, if given."""
        ...

    def remove_container(self, key: str, *, force: bool = False) -> None: ...

    def events(self) -> Iterator[ChangeEvent]: ...

    def analyze(
        self,
        ref: str,
        *,
        platform: str | None = None,
        trees: bool = False,
        progress: Callable[[AnalysisProgress], None] | None = None,
    ) -> ImageAnalysis:
        """dive's figures for an image (cached per layer); with trees, each layer's files."""
        ...

    def close(self) -> None: ...


def short_id(image_id: str) -> str:
    """The 12-hex form docker prints in tables."""
    return image_id.removeprefix("sha256:")[:12]
