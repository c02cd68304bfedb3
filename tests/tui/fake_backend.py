"""An in-memory Backend for fast UI tests: deterministic data, recorded calls, scripted streams.

Only UI tests use it; every key and dialog is also driven once on a real backend. Its behaviour
follows the contract suite's (docker's) semantics closely enough for the UI: tag moves, rmi of the
last tag deletes, in-use images need force, prune frees the unique bytes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from imgtui import reference
from imgtui.analysis.model import (
    AnalysisProgress,
    FileNode,
    ImageAnalysis,
    InefficientFile,
    LayerAnalysis,
)
from imgtui.backends.base import (
    BackendError,
    BackendInfo,
    BackendUnavailable,
    BuildLog,
    BuildOptions,
    BuildResult,
    BuildStep,
    BytesProgress,
    ChangeEvent,
    Conflict,
    ContainerNotFound,
    ContainerSummary,
    ContainerUsage,
    DiskUsage,
    HistoryEntry,
    ImageConfig,
    ImageDetail,
    ImageFilter,
    ImageNotFound,
    ImageSummary,
    ImageUsage,
    InvalidReference,
    LayerProgress,
    ProgressEvent,
    PruneReport,
    RemoveResult,
    StatusLine,
)

FROZEN = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)


def _id(n: int) -> str:
    return "sha256:" + f"{n:02x}" * 32


@dataclass
class FakeImage:
    id: str
    names: list[str]  # familiar "repo:tag"
    created: datetime
    layers: list[tuple[str, int]]  # (layer id, size), bottom first
    history: list[HistoryEntry]
    config: ImageConfig = field(default_factory=ImageConfig)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(s for _, s in self.layers)


class FakeBackend:
    """Backend protocol in memory; `calls` records what the UI asked for."""

    name = "fake"

    def __init__(self, images: Sequence[FakeImage] | None = None) -> None:
        self._images: dict[str, FakeImage] = {i.id: i for i in (images or sample_images())}
        self.containers_list: list[ContainerSummary] = []
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.available = True
        self.pull_events: list[ProgressEvent] = default_pull_events()
        self.build_events: list[ProgressEvent] = default_build_events()
        self.build_gate: threading.Event | None = None  # set() to let a build finish
        self.analysis_gate: threading.Event | None = None  # set() to let analyses go on
        self.analysis_error = ""  # analyses fail with this message when set
        self._events: queue.Queue[ChangeEvent | None] = queue.Queue()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers for tests

    def emit(self, event: ChangeEvent) -> None:
        self._events.put(event)

    def _check(self, what: str, *args: object) -> None:
        self.calls.append((what, args))
        if not self.available:
            raise BackendUnavailable("cannot connect to the Docker daemon at fake://: gone")

    def _find(self, ref: str) -> FakeImage:
        for image in self._images.values():
            if ref in image.names or image.id == ref:
                return image
            if ref.removeprefix("sha256:") and image.id.removeprefix("sha256:").startswith(
                ref.removeprefix("sha256:")
            ):
                return image
        try:
            fam = reference.familiar(ref)
        except InvalidReference:
            fam = ref
        for image in self._images.values():
            if fam in image.names:
                return image
        raise ImageNotFound(f"No such image: {ref}")

    # ------------------------------------------------------------------ protocol

    def info(self) -> BackendInfo:
        self._check("info")
        return BackendInfo(name="fake", location="fake://test", version="1.0")

    def images(
        self, *, all: bool = False, filters: ImageFilter | None = None
    ) -> list[ImageSummary]:
        self._check("images")
        users: dict[str, int] = {}
        for c in self.containers_list:
            users[c.image_id] = users.get(c.image_id, 0) + 1
        layer_users: dict[str, int] = {}
        for i in self._images.values():
            for layer, _ in i.layers:
                layer_users[layer] = layer_users.get(layer, 0) + 1
        out = [
            ImageSummary(
                id=i.id,
                repo_tags=tuple(i.names),
                repo_digests=(),
                created=i.created,
                size=i.size,
                shared_size=sum(s for layer, s in i.layers if layer_users[layer] > 1),
                containers=users.get(i.id, 0),
                labels=i.labels,
            )
            for i in self._images.values()
        ]
        if filters is not None and filters.dangling is not None:
            out = [s for s in out if s.dangling == filters.dangling]
        return sorted(out, key=lambda s: s.created, reverse=True)

    def inspect(self, ref: str) -> ImageDetail:
        self._check("inspect", ref)
        i = self._find(ref)
        return ImageDetail(
            id=i.id,
            repo_tags=tuple(i.names),
            repo_digests=(),
            created=i.created,
            size=i.size,
            architecture="amd64",
            os="linux",
            config=i.config,
            layers=tuple(f"sha256:{layer}" for layer, _ in i.layers),
            raw={"Id": i.id, "RepoTags": list(i.names)},
        )

    def history(self, ref: str) -> list[HistoryEntry]:
        self._check("history", ref)
        return list(self._find(ref).history)

    def original_dockerfile(self, ref: str) -> str | None:
        self._check("original_dockerfile", ref)
        self._find(ref)
        return None

    def tag(self, source: str, target: str) -> None:
        self._check("tag", source, target)
        r = reference.parse_docker_ref(target)
        if r.digest:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        image = self._find(source)
        name = r.familiar()
        with self._lock:
            for other in self._images.values():
                if name in other.names:
                    other.names.remove(name)
            image.names.append(name)

    def remove(self, ref: str, *, force: bool = False, no_prune: bool = False) -> RemoveResult:
        self._check("remove", ref, force, no_prune)
        image = self._find(ref)
        users = [c for c in self.containers_list if c.image_id == image.id]
        if users and not force:
            raise Conflict(
                f"conflict: unable to remove repository reference {ref!r} (must force) - "
                f"container {users[0].id[:12]} is using its referenced image {image.id[7:19]}"
            )
        with self._lock:
            if ref in image.names and len(image.names) > 1:
                image.names.remove(ref)
                return RemoveResult((ref,), (), (f"Untagged: {ref}",))
            untagged = tuple(image.names)
            del self._images[image.id]
        lines = (*tuple(f"Untagged: {n}" for n in untagged), f"Deleted: {image.id}")
        return RemoveResult(untagged, (image.id,), lines)

    def prune_images(self, *, all: bool = False, until: str | None = None) -> PruneReport:
        self._check("prune_images", all, until)
        used = {c.image_id for c in self.containers_list}
        gone = [i for i in self._images.values() if i.id not in used and (all or not i.names)]
        freed = 0
        for i in gone:
            del self._images[i.id]
            freed += i.size
        return PruneReport(
            untagged=tuple(n for i in gone for n in i.names),
            deleted_images=tuple(i.id for i in gone),
            space_reclaimed=freed,
        )

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        self._check("system_prune", all, volumes)
        stopped = [c for c in self.containers_list if not c.running]
        self.containers_list = [c for c in self.containers_list if c.running]
        return PruneReport(deleted_containers=tuple(c.id for c in stopped)) + self.prune_images(
            all=all
        )

    def prune_build_cache(self, *, all: bool = False) -> PruneReport:
        self._check("prune_build_cache", all)
        return PruneReport(deleted_build_cache=("cache1",), space_reclaimed=4096)

    def disk_usage(self) -> DiskUsage:
        self._check("disk_usage")
        summaries = self.images()
        layers: dict[str, int] = {}
        for i in self._images.values():
            layers.update(dict(i.layers))
        return DiskUsage(
            layers_size=sum(layers.values()),
            images=tuple(
                ImageUsage(
                    id=s.id,
                    repo_tags=s.repo_tags,
                    created=s.created,
                    size=s.size,
                    shared_size=s.shared_size or 0,
                    containers=s.containers or 0,
                )
                for s in summaries
            ),
            containers=tuple(
                ContainerUsage(id=c.id, name=c.name, image=c.image, size_rw=0, running=c.running)
                for c in self.containers_list
            ),
        )

    def build(self, options: BuildOptions) -> Iterator[ProgressEvent]:
        self._check("build", options)
        for event in self.build_events:
            if isinstance(event, BuildResult) and self.build_gate is not None:
                self.build_gate.wait(30)
            yield event
        image = FakeImage(
            id=_id(200 + len(self._images)),
            names=[reference.familiar(t) for t in options.tags],
            created=FROZEN,
            layers=[("built", 1000)],
            history=[HistoryEntry("<missing>", FROZEN, "RUN true", 1000)],
        )
        self._images[image.id] = image

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        self._check("pull", ref, platform)
        reference.parse_docker_ref(ref)
        yield from self.pull_events
        image = FakeImage(
            id=_id(100 + len(self._images)),
            names=[reference.familiar(ref)],
            created=FROZEN - timedelta(days=3),
            layers=[("pulled", 5_000_000)],
            history=[HistoryEntry("<missing>", FROZEN, "ADD file:abc in /", 5_000_000)],
        )
        self._images[image.id] = image

    def push(self, ref: str) -> Iterator[ProgressEvent]:
        self._check("push", ref)
        self._find(ref)
        yield StatusLine(f"The push refers to repository [{ref.rsplit(':', 1)[0]}]")
        yield LayerProgress("aaa111", "Pushed")
        yield StatusLine("latest: digest: sha256:" + "e" * 64 + " size: 527")

    def save(self, refs: Sequence[str], dest: Path) -> Iterator[ProgressEvent]:
        self._check("save", tuple(refs), dest)
        Path(dest).write_bytes(b"fake archive")
        yield BytesProgress(12, 12)

    def load(self, source: Path) -> Iterator[ProgressEvent]:
        self._check("load", source)
        yield StatusLine("Loaded image: loaded:latest")

    def containers(self, *, all: bool = False) -> list[ContainerSummary]:
        self._check("containers", all)
        return [c for c in self.containers_list if all or c.running]

    def commit(
        self,
        container: str,
        ref: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: Sequence[str] = (),
        pause: bool = True,
    ) -> str:
        self._check("commit", container, ref, message)
        match = [c for c in self.containers_list if container in (c.id, c.name)]
        if not match:
            raise ContainerNotFound(f"No such container: {container}")
        image = FakeImage(
            id=_id(150 + len(self._images)),
            names=[reference.familiar(ref)] if ref else [],
            created=FROZEN,
            layers=[("committed", 10)],
            history=[HistoryEntry("<missing>", FROZEN, "sh", 10, comment=message)],
        )
        self._images[image.id] = image
        return image.id

    def events(self) -> Iterator[ChangeEvent]:
        while True:
            event = self._events.get()
            if event is None:
                return
            yield event

    def analyze(
        self,
        ref: str,
        *,
        platform: str | None = None,
        trees: bool = False,
        progress: Callable[[AnalysisProgress], None] | None = None,
    ) -> ImageAnalysis:
        """Trees made from the image's layers (see fake_analysis); `analysis_gate` holds it."""
        self._check("analyze", ref)
        image = self._find(ref)
        for n, (layer, _) in enumerate(image.layers):
            if progress is not None:
                progress(AnalysisProgress(n, len(image.layers), f"sha256:{layer}"))
            if self.analysis_gate is not None and not self.analysis_gate.wait(10):
                raise BackendError("analysis gate never opened")
        if self.analysis_error:
            raise BackendError(self.analysis_error)
        return fake_analysis(image, ref)

    def close(self) -> None:
        self._events.put(None)


def default_pull_events() -> list[ProgressEvent]:
    return [
        StatusLine("latest: Pulling from library/demo"),
        LayerProgress("aaa111", "Pulling fs layer"),
        LayerProgress("aaa111", "Downloading", 1_000_000, 5_000_000),
        LayerProgress("aaa111", "Downloading", 5_000_000, 5_000_000),
        LayerProgress("aaa111", "Pull complete"),
        StatusLine("Digest: sha256:" + "d" * 64),
        StatusLine("Status: Downloaded newer image for demo:latest"),
    ]


def default_build_events() -> list[ProgressEvent]:
    return [
        BuildStep(1, 2, "FROM demo/base:1.0"),
        BuildLog(" ---> 0123456789ab\n"),
        BuildStep(2, 2, "RUN echo hello"),
        BuildLog("hello\n"),
        BuildResult(_id(250), ("built:latest",)),
    ]


def sample_images() -> list[FakeImage]:
    """Seven images like the demo's: shared base, several tags, a dangling one, a big one."""
    day = timedelta(days=1)
    base = [("base", 2_200_000)]

    def hist(*steps: tuple[str, int]) -> list[HistoryEntry]:
        entries = [
            HistoryEntry(
                "<missing>",
                FROZEN - 90 * day,
                f"/bin/sh -c #(nop) {cmd}",
                size,
                empty_layer=size == 0,
            )
            for cmd, size in steps
        ]
        return list(reversed(entries))

    base_hist = [("ADD file:ea826e99c884 in / ", 2_200_000), ('CMD ["/bin/sh"]', 0)]
    return [
        FakeImage(
            _id(1),
            ["demo/base:1.0", "demo/base:latest"],
            FROZEN - 90 * day,
            list(base),
            hist(*base_hist),
            ImageConfig(cmd=("/bin/sh",), env=("PATH=/usr/bin:/bin",)),
        ),
        FakeImage(
            _id(2),
            ["demo/web:1.2"],
            FROZEN - 2 * day,
            [*base, ("web", 1_450_000)],
            hist(
                *base_hist,
                ("ENV NGINX_VERSION=1.25.3", 0),
                ("COPY dir:71a6 in /srv/www ", 1_450_000),
                ("EXPOSE 80", 0),
                ('CMD ["nginx" "-g" "daemon off;"]', 0),
            ),
            ImageConfig(
                cmd=("nginx", "-g", "daemon off;"),
                exposed_ports=("80/tcp",),
                env=("NGINX_VERSION=1.25.3",),
                labels={"maintainer": "web-team"},
            ),
            labels={"maintainer": "web-team"},
        ),
        FakeImage(
            _id(3),
            ["demo/api:2.0"],
            FROZEN - timedelta(hours=6),
            [*base, ("api", 1_630_000)],
            hist(*base_hist, ("|1 VERSION=2.0 /bin/sh -c build", 1_630_000)),
            ImageConfig(entrypoint=("/usr/bin/api",), cmd=("--port", "8080")),
        ),
        FakeImage(
            _id(4),
            ["demo/worker:dev"],
            FROZEN - timedelta(hours=1),
            [*base, ("worker", 910_000)],
            hist(*base_hist, ("RUN make", 910_000)),
        ),
        FakeImage(
            _id(5),
            ["demo/data:3.1"],
            FROZEN - 9 * day,
            [*base, ("data1", 2_500_000), ("data2", 2_500_000), ("data3", 1_260_000)],
            hist(
                *base_hist,
                ("COPY model.bin", 2_500_000),
                ("COPY model.bin", 2_500_000),
                ("RUN rm debug.log", 1_260_000),
            ),
        ),
        FakeImage(
            _id(6),
            [],
            FROZEN - 20 * day,
            [*base, ("oldweb", 1_430_000)],
            hist(*base_hist, ("COPY dir:old in /srv/www ", 1_430_000)),
        ),
        FakeImage(
            _id(7),
            ["registry.example.com:5000/team/tool:v3"],
            FROZEN - 40 * day,
            [("tool", 12_000_000)],
            hist(("ADD tool.tar /", 12_000_000)),
        ),
    ]


def many_images(n: int) -> list[FakeImage]:
    """`n` images for scale tests: 100 repositories, shared base layers."""
    out = []
    for k in range(n):
        out.append(
            FakeImage(
                id="sha256:" + f"{k:064x}",
                names=[f"bulk/app{k % 100:03d}:v{k // 100}"],
                created=FROZEN - timedelta(minutes=k),
                layers=[("base", 2_000_000), (f"own{k}", 1000 + k)],
                history=[HistoryEntry("<missing>", FROZEN, "RUN build", 1000 + k)],
            )
        )
    return out


def with_container(backend: FakeBackend, image_id: str, *, running: bool = False) -> str:
    """Add a container using `image_id`; returns its id."""
    cid = f"{len(backend.containers_list) + 1:064x}"
    backend.containers_list.append(
        ContainerSummary(
            id=cid,
            names=(f"ctr{len(backend.containers_list) + 1}",),
            image=image_id,
            image_id=image_id,
            command="sh",
            created=FROZEN,
            state="running" if running else "exited",
            status="Up 2 hours" if running else "Exited (0) 2 hours ago",
        )
    )
    return cid


__all__ = ["FROZEN", "FakeBackend", "FakeImage", "many_images", "with_container"]


def fake_analysis(image: FakeImage, ref: str) -> ImageAnalysis:
    """A small, known analysis: the base layer holds /bin and /etc; every later layer adds
    /<layer>/data.bin of its size, rewrites /etc/config and removes the previous layer's folder,
    so each change kind and one wasted file (/etc/config) appear on every image but the base."""
    layers = []
    previous = ""
    for n, (layer, size) in enumerate(image.layers):
        tree: list[FileNode] = []
        if n == 0:
            tree += [
                FileNode("/bin", "dir", 0o755, 0, 0, 0),
                FileNode("/bin/sh", "file", 0o755, 0, 0, size - 1_000),
                FileNode("/bin/ls", "symlink", 0o777, 0, 0, 0, link="/bin/sh"),
                FileNode("/etc", "dir", 0o755, 0, 0, 0),
                FileNode("/etc/config", "file", 0o644, 0, 0, 1_000, digest=f"sha256:{0:064x}"),
            ]
        else:
            tree += [
                FileNode("/etc", "dir", 0o755, 0, 0, 0, change="modified"),
                FileNode(
                    "/etc/config", "file", 0o644, 0, 0, 1_000, "", f"sha256:{n:064x}", "modified"
                ),
                FileNode(f"/{layer}", "dir", 0o755, 0, 0, 0),
                FileNode(f"/{layer}/data.bin", "file", 0o644, 1000, 1000, size - 1_000),
            ]
            if previous:
                tree.append(FileNode(f"/{previous}", "dir", 0o755, 0, 0, 0, change="removed"))
            previous = layer
        layers.append(
            LayerAnalysis(
                index=n,
                diff_id=f"sha256:{layer}",
                size=size,
                command=image.history[-1 - n].created_by if n < len(image.history) else "",
                entries=len(tree),
                added=sum(1 for f in tree if f.change == "added"),
                modified=sum(1 for f in tree if f.change == "modified"),
                removed=sum(1 for f in tree if f.change == "removed"),
                tree=tuple(tree),
            )
        )
    total = sum(s for _, s in image.layers)
    wasted = 1_000 * len(image.layers) if len(image.layers) > 1 else 0
    user = total - image.layers[0][1]
    return ImageAnalysis(
        image=ref,
        id=image.id,
        layers=tuple(layers),
        size=total,
        user_size=user,
        wasted_bytes=wasted,
        user_wasted_percent=wasted / user if user else 0.0,
        efficiency=1.0 - (wasted - 1_000) / total if wasted else 1.0,
        inefficient=(InefficientFile("/etc/config", len(image.layers), wasted),) if wasted else (),
    )
