"""The built-in store as a Backend: docker's image semantics over an OCI layout, no daemon.

Names, ids and removal follow docker: an image is its config digest; a tag moved away from an
image that has no other name leaves it dangling (<none>); rmi of the last name deletes the image
and whatever blobs no other image needs; an image a container uses is refused unless forced.
Every change to names happens inside one `store.locked()` block, so concurrent processes never
lose a tag.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imgtui import reference
from imgtui.backends.base import (
    BackendError,
    BackendInfo,
    BackendUnavailable,
    BuildCacheUsage,
    BuildOptions,
    BytesProgress,
    ChangeEvent,
    Conflict,
    ContainerNotFound,
    ContainerSummary,
    ContainerUsage,
    DiskUsage,
    HistoryEntry,
    ImageDetail,
    ImageFilter,
    ImageNotFound,
    ImageSummary,
    ImageUsage,
    InvalidArgument,
    InvalidReference,
    ProgressEvent,
    PruneReport,
    RemoveResult,
    StatusLine,
    Unsupported,
)
from imgtui.backends.convert import image_config, parse_until
from imgtui.store import containers as ctr
from imgtui.store.images import FactsCache, StoredImage, parse_created, stored_images
from imgtui.store.layout import Index, Store, StoreError
from imgtui.store.oci import FormatError

EMPTY_LAYER_CREATED_BY = "#(nop)"


class BuiltinBackend:
    """Images in an OCI layout folder; blocking calls, safe across threads and processes."""

    name = "builtin"

    def __init__(self, store_dir: Path | str) -> None:
        self.store_dir = Path(store_dir).expanduser()
        self._store: Store | None = None
        self._cache: FactsCache | None = None
        self._cache_lock = threading.Lock()
        self._closed = threading.Event()
        self._last_freed = 0

    # ------------------------------------------------------------------ plumbing

    @property
    def store(self) -> Store:
        """The store, created on first use; a folder that cannot hold one is 'unavailable'."""
        if self._store is None:
            try:
                self._store = Store.open(self.store_dir)
            except (StoreError, OSError) as e:
                raise BackendUnavailable(
                    f"cannot open the store at {self.store_dir}: {_reason(e)}"
                ) from None
            self._cache = FactsCache(self._store)
        return self._store

    @property
    def cache(self) -> FactsCache:
        self.store  # noqa: B018 - opens the store and its cache
        assert self._cache is not None
        return self._cache

    def info(self) -> BackendInfo:
        from imgtui import __version__

        return BackendInfo(name="builtin", location=str(self.store.root), version=__version__)

    def close(self) -> None:
        self._closed.set()
        with self._cache_lock:
            if self._cache is not None:
                self._cache.save()

    def _images(self, index: Index | None = None) -> list[StoredImage]:
        cache = self.cache
        try:
            index = index if index is not None else self.store.read_index()
        except StoreError as e:
            raise BackendError(f"the store is damaged: {e} (run imgtui fsck)") from None
        with self._cache_lock:
            try:
                images = stored_images(index, cache)
            except (FormatError, StoreError) as e:
                raise BackendError(f"the store is damaged: {e} (run imgtui fsck)") from None
            cache.save()
        return images

    def _resolve(self, ref: str, images: list[StoredImage]) -> StoredImage:
        """An image by name, id, id prefix or name@digest, as docker resolves image references."""
        name = _normalized(ref)
        if name is not None:
            for image in images:
                if name in image.names:
                    return image
            if "@" in name:
                digest = name.split("@", 1)[1]
                for image in images:
                    if any(m.digest == digest for m in image.manifests):
                        return image
        if reference.is_image_id(ref):
            hexpart = ref.removeprefix("sha256:")
            matches = [i for i in images if i.id.removeprefix("sha256:").startswith(hexpart)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Conflict(f"ambiguous image id {ref!r}: {len(matches)} images match")
        shown = reference.familiar(ref) if name is not None and "@" not in ref else ref
        raise ImageNotFound(f"No such image: {shown}")

    # ------------------------------------------------------------------ images

    def images(
        self, *, all: bool = False, filters: ImageFilter | None = None
    ) -> list[ImageSummary]:
        images = self._images()
        users = _users(self.store)
        shared = _shared_sizes(images)
        out = [self._summary(i, users.get(i.id, 0), shared[i.id]) for i in images]
        if filters is not None:
            out = self._filter(out, images, filters)
        out.sort(key=lambda s: s.created, reverse=True)
        return out

    def _summary(self, image: StoredImage, containers: int, shared: int) -> ImageSummary:
        return ImageSummary(
            id=image.id,
            repo_tags=_tags(image),
            repo_digests=_repo_digests(image),
            created=parse_created(image.facts.created),
            size=image.facts.size,
            shared_size=shared,
            containers=containers,
            labels=image.facts.labels,
        )

    def _filter(
        self, out: list[ImageSummary], images: list[StoredImage], f: ImageFilter
    ) -> list[ImageSummary]:
        if f.dangling is not None:
            out = [s for s in out if s.dangling == f.dangling]
        for label in f.labels:
            key, sep, value = label.partition("=")
            out = [s for s in out if key in s.labels and (not sep or s.labels[key] == value)]
        if f.references:
            out = [
                s
                for s in out
                if any(reference.familiar_match(p, t) for p in f.references for t in s.repo_tags)
            ]
        if f.before:
            limit = self._created(f.before, images)
            out = [s for s in out if s.created < limit]
        if f.since:
            limit = self._created(f.since, images)
            out = [s for s in out if s.created > limit]
        if f.until:
            until = parse_until(f.until)
            out = [s for s in out if s.created < until]
        return out

    def _created(self, ref: str, images: list[StoredImage]) -> datetime:
        return parse_created(self._resolve(ref, images).facts.created)

    def inspect(self, ref: str) -> ImageDetail:
        images = self._images()
        image = self._resolve(ref, images)
        config = self.store.read_config(image.id)
        inner = config.get("config") or {}
        created = parse_created(config.get("created"))
        repo_tags = list(_tags(image))
        raw: dict[str, Any] = {
            "Id": image.id,
            "RepoTags": repo_tags,
            "RepoDigests": list(_repo_digests(image)),
            "Parent": "",
            "Comment": config.get("comment", ""),
            "Created": config.get("created", ""),
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": inner,
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", ""),
            "Size": image.facts.size,
            "RootFS": {"Type": "layers", "Layers": list(image.facts.diff_ids)},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
            "Descriptor": image.manifests[0].to_json() if image.manifests else {},
        }
        if config.get("variant"):
            raw["Variant"] = config["variant"]
        return ImageDetail(
            id=image.id,
            repo_tags=tuple(repo_tags),
            repo_digests=_repo_digests(image),
            created=created,
            size=image.facts.size,
            architecture=str(config.get("architecture", "")),
            os=str(config.get("os", "")),
            variant=str(config.get("variant", "")),
            config=image_config(inner if isinstance(inner, dict) else {}),
            layers=image.facts.diff_ids,
            comment=str(config.get("comment", "")),
            author=str(config.get("author", "")),
            docker_version=str(config.get("docker_version", "")),
            raw=raw,
        )

    def history(self, ref: str) -> list[HistoryEntry]:
        images = self._images()
        image = self._resolve(ref, images)
        config = self.store.read_config(image.id)
        steps = config.get("history") or []
        sizes = list(image.facts.layer_sizes)
        entries: list[HistoryEntry] = []
        layer = 0
        for step in steps:
            empty = bool(step.get("empty_layer"))
            size = 0
            if not empty:
                size = sizes[layer] if layer < len(sizes) else 0
                layer += 1
            entries.append(
                HistoryEntry(
                    id="<missing>",
                    created=parse_created(step.get("created")) if step.get("created") else None,
                    created_by=str(step.get("created_by", "")),
                    size=size,
                    comment=str(step.get("comment", "")),
                    empty_layer=empty,
                )
            )
        # Layers the history does not account for (hand-made images) still show, as docker does.
        for extra in sizes[layer:]:
            entries.append(HistoryEntry(id="<missing>", created=None, created_by="", size=extra))
        entries.reverse()
        if entries:
            top = entries[0]
            entries[0] = HistoryEntry(
                id=image.id,
                created=top.created,
                created_by=top.created_by,
                size=top.size,
                comment=top.comment,
                tags=tuple(reference.familiar(n) for n in image.names),
                empty_layer=top.empty_layer,
            )
        return entries

    def original_dockerfile(self, ref: str) -> str | None:
        """The Dockerfile blob a builder attached to the manifest (annotation), if any."""
        from imgtui.store import oci

        image = self._resolve(ref, self._images())
        for m in image.manifests:
            digest = self.store.read_manifest(m.digest).annotations.get(oci.DOCKERFILE_ANNOTATION)
            if digest and oci.DIGEST_RE.match(digest) and self.store.has_blob(digest):
                return self.store.read_blob(digest).decode("utf-8", errors="replace")
        return None

    def tag(self, source: str, target: str) -> None:
        r = reference.parse_docker_ref(target)
        if r.digest:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        with self.store.locked() as index:
            image = self._resolve(source, self._images(index))
            index.set_name(str(r), image.manifests[0])

    def remove(self, ref: str, *, force: bool = False, no_prune: bool = False) -> RemoveResult:
        """docker rmi: untag a name; delete the image with its last name; by id, every name."""
        untagged: list[str] = []
        deleted: list[str] = []
        with self.store.locked() as index:
            images = self._images(index)
            image = self._resolve(ref, images)
            name = _normalized(ref)
            by_name = name is not None and name in image.names
            users = ctr.users_of(self.store, image.id)
            # repo@digest names (pull/push records) keep no image alive on their own, as in docker
            tags = [n for n in image.names if "@" not in n]
            if by_name and (len(tags) > 1 or (name not in tags and tags)):
                index.remove_name(name)  # other names keep the image
                return _result([reference.familiar(name)], [])
            if not by_name and not force and len(tags) > 1:
                # docker: by id, more than one tag needs force (isSingleReference)
                raise Conflict(
                    f"conflict: unable to delete {image.id.removeprefix('sha256:')[:12]} "
                    "(must be forced) - image is referenced in multiple repositories"
                )
            running = [c for c in users if c.state == "running"]
            if running or (users and not force):
                c = (running or users)[0]
                what = (
                    f'remove repository reference "{reference.familiar(ref)}"'
                    if by_name
                    else f"delete {image.id.removeprefix('sha256:')[:12]}"
                )
                raise Conflict(
                    f"conflict: unable to {what} (must force) - container {c.id[:12]} is using "
                    f"its referenced image {image.id.removeprefix('sha256:')[:12]}"
                )
            targets = (
                [name, *(n for n in image.names if "@" in n and n != name)]
                if by_name
                else list(image.names)
            )
            for n in targets:
                index.remove_name(n)
                untagged.append(reference.familiar(n))
            for m in image.manifests:
                index.remove_manifest(m.digest)
            deleted.append(image.id)
            deleted.extend(self._sweep(index))
        return _result(untagged, deleted)

    def _sweep(self, index: Index) -> list[str]:
        """Blobs no image needs any more, removed; the caller holds the lock."""
        from imgtui.store import gc

        report = gc.sweep(self.store, index)
        self._last_freed = report.bytes_freed
        return [d for d in report.removed]

    def prune_images(self, *, all: bool = False, until: str | None = None) -> PruneReport:
        limit = parse_until(until)
        with self.store.locked() as index:
            images = self._images(index)
            used = _users(self.store)
            untagged: list[str] = []
            deleted: list[str] = []
            for image in images:
                if image.id in used or (not all and not image.dangling):
                    continue
                if limit is not None and parse_created(image.facts.created) >= limit:
                    continue
                untagged.extend(reference.familiar(n) for n in image.names)
                for m in image.manifests:
                    index.remove_manifest(m.digest)
                deleted.append(image.id)
            self._last_freed = 0
            if deleted:
                swept = self._sweep(index)
                deleted.extend(d for d in swept if d not in deleted)
        return PruneReport(
            untagged=tuple(untagged),
            deleted_images=tuple(deleted),
            space_reclaimed=self._last_freed,
        )

    def prune_build_cache(self, *, all: bool = False) -> PruneReport:
        """Drop the builder's step records, then sweep the layers only they kept."""
        from imgtui.build.cache import BuildCache
        from imgtui.store import gc

        cache = BuildCache(self.store)
        with self.store.locked() as index:
            records = tuple(p.stem for p in cache.records())
            freed = cache.drop()
            swept = gc.sweep(self.store, index)
        return PruneReport(deleted_build_cache=records, space_reclaimed=freed + swept.bytes_freed)

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        removed = []
        for record in ctr.records(self.store):
            if record.state != "running":
                ctr.remove(self.store, record)
                removed.append(record.id)
        report = PruneReport(deleted_containers=tuple(removed))
        report += self.prune_images(all=all)
        report += self.prune_build_cache(all=all)
        return report

    def disk_usage(self) -> DiskUsage:
        images = self._images()
        users = _users(self.store)
        shared = _shared_sizes(images)
        layer_size = {d: s for i in images for d, s in i.facts.sized_layers()}
        usage = tuple(
            ImageUsage(
                id=i.id,
                repo_tags=tuple(reference.familiar(n) for n in i.names),
                created=parse_created(i.facts.created),
                size=i.facts.size,
                shared_size=shared[i.id],
                containers=users.get(i.id, 0),
            )
            for i in sorted(images, key=lambda i: i.facts.created, reverse=True)
        )
        containers = tuple(
            ContainerUsage(
                id=r.id,
                name=r.name,
                image=r.image,
                size_rw=0,
                running=r.state == "running",
                command=" ".join(r.command),
                created=r.created_at,
                status=_status(r),
            )
            for r in ctr.records(self.store)
        )
        return DiskUsage(
            layers_size=sum(layer_size.values()),
            images=usage,
            containers=containers,
            build_cache=self._build_cache_usage(),
        )

    def _build_cache_usage(self) -> tuple[BuildCacheUsage, ...]:
        """The build cache as one entry: step records plus layers no image references."""
        from imgtui.build.cache import BuildCache

        referenced, _ = self.store.referenced(self.store.read_index())
        count, size = BuildCache(self.store).usage(referenced)
        if not count:
            return ()
        return (
            BuildCacheUsage(
                id="imgtui-build-cache",
                kind="regular",
                size=size,
                in_use=False,
                shared=False,
                description=f"{count} build steps",
                usage_count=count,
            ),
        )

    # ------------------------------------------------------------------ archives

    def save(self, refs: Sequence[str], dest: Path) -> Iterator[ProgressEvent]:
        from imgtui.store import archive

        if not refs:
            raise InvalidArgument("save: at least one image is required")
        images = self._images()
        chosen = []
        for ref in refs:
            image = self._resolve(ref, images)
            name = _normalized(ref)
            # as docker save: a name keeps that name; an id saves the image without names
            names = [name] if name is not None and name in image.names else []
            chosen.append((image.manifests[0], names))
        dest = Path(dest)
        if not dest.parent.is_dir():
            raise InvalidArgument(f"save: directory {str(dest.parent)!r} does not exist")
        try:
            archive.save_archive(self.store, chosen, dest)
        except (FormatError, StoreError) as e:
            raise BackendError(f"save: {e}") from None
        size = dest.stat().st_size
        yield BytesProgress(size, size)

    def load(self, source: Path) -> Iterator[ProgressEvent]:
        from imgtui.store import archive

        source = Path(source)
        if not source.is_file():
            raise InvalidArgument(f"load: cannot open {str(source)!r}: no such file")
        lines: list[str] = []
        try:
            archive.load_archive(self.store, source, on_line=lines.append)
        except FormatError as e:
            raise InvalidArgument(f"load: {e}") from None
        except StoreError as e:
            raise BackendError(f"load: {e}") from None
        for line in lines:
            yield StatusLine(line)
        size = source.stat().st_size
        yield BytesProgress(size, size)

    # ------------------------------------------------------------------ containers

    def containers(self, *, all: bool = False) -> list[ContainerSummary]:
        store = self.store
        return [
            ContainerSummary(
                id=r.id,
                names=(r.name,),
                image=r.image,
                image_id=r.image_id,
                command=" ".join(r.command),
                created=r.created_at,
                state=r.state,
                status=_status(r),
            )
            for r in ctr.records(store)
            if all or r.state == "running"
        ]

    def create_container(
        self, image: str, *, name: str | None = None, command: Sequence[str] = ()
    ) -> str:
        """docker create: a container record pinning its image (run fills in the rest)."""
        target = self._resolve(image, self._images())
        try:
            return ctr.create(self.store, image, target.id, name=name, command=command).id
        except ctr.ContainerError as e:
            raise Conflict(str(e)) from None

    def remove_container(self, key: str, *, force: bool = False) -> None:
        try:
            record = ctr.find(self.store, key)
        except ctr.ContainerError as e:
            raise ContainerNotFound(str(e)) from None
        if record.state == "running" and not force:
            raise Conflict(
                f"You cannot remove a running container {record.id}. Stop the container "
                "before attempting removal or force remove"
            )
        if record.state == "running" and record.pid > 0:
            import os
            import signal

            with contextlib.suppress(ProcessLookupError, PermissionError):
                # unshare: its --kill-child takes pid 1 of the sandbox along, and the kernel
                # every other process of that pid namespace
                os.kill(record.pid, signal.SIGKILL)
        ctr.remove(self.store, record)

    # ------------------------------------------------------------------ not yet daemonless

    def build(
        self, options: BuildOptions, *, cancel: threading.Event | None = None
    ) -> Iterator[ProgressEvent]:
        """docker build without a daemon (imgtui.build.builder); named only when it succeeded."""
        from imgtui.build import builder

        store = self.store
        try:
            yield from builder.build(store, options, cancel=cancel)
        except (FormatError, StoreError) as e:
            raise BackendError(f"build: {e}") from None

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        """docker pull into the store (imgtui.registry.pull): named only once all is verified."""
        from imgtui.registry import pull

        store = self.store
        reference.parse_docker_ref(ref)  # a bad reference fails before any event
        try:
            yield from pull.pull(store, ref, platform=platform)
        except (FormatError, StoreError) as e:
            raise BackendError(f"pull {ref}: {e}") from None

    def push(self, ref: str) -> Iterator[ProgressEvent]:
        """docker push of a stored image (imgtui.registry.push); records the repo digest."""
        from imgtui.registry import push

        r = reference.parse_docker_ref(ref)
        image = self._resolve(ref, self._images())
        try:
            yield from push.push(self.store, r, image.manifests[0])
        except (FormatError, StoreError) as e:
            raise BackendError(f"push {ref}: {e}") from None

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
        """docker commit: the container's changes since it was made, as one new layer."""
        from imgtui.sandbox import containers as sandbox_ctr

        store = self.store
        names = [reference.normalize(ref)] if ref else []
        try:
            record = ctr.find(store, container)
        except ctr.ContainerError as e:
            raise ContainerNotFound(str(e)) from None
        if record.state == "running" and not pause:
            raise Conflict(f"container {record.name} is running: commit it once it stopped")
        image = self._resolve(record.image_id, self._images())
        manifest = store.read_manifest(image.manifests[0].digest)
        try:
            return sandbox_ctr.commit(
                store,
                record,
                store.read_config(image.id),
                manifest.layers,
                names=names,
                message=message,
                author=author,
                changes=changes,
            )
        except (FormatError, StoreError) as e:
            raise BackendError(f"commit {container}: {e}") from None

    def run_container(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        name: str | None = None,
        tty: bool = False,
        network: str = "none",
        remove: bool = False,
        output: Any = None,
        cancel: threading.Event | None = None,
    ) -> tuple[str, int]:
        """docker run without a daemon: (container id, exit code). See imgtui.sandbox."""
        from imgtui.sandbox import containers as sandbox_ctr
        from imgtui.sandbox import unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            raise Unsupported(reason)
        store = self.store
        target = self._resolve(image, self._images())
        config = store.read_config(target.id)
        spec = sandbox_ctr.spec_for(config, command, tty=tty, network=network)
        try:
            record = ctr.create(
                store,
                image,
                target.id,
                name=name,
                command=spec.argv,
                cmd=list(command) or list((config.get("config") or {}).get("Cmd") or ()),
            )
        except ctr.ContainerError as e:
            raise Conflict(str(e)) from None
        try:
            layers = [d.digest for d in store.read_manifest(target.manifests[0].digest).layers]
            root = sandbox_ctr.prepare(store, record, layers)
            spec = sandbox_ctr.spec_for(
                config, command, tty=tty, network=network, hostname=record.id[:12]
            )
            code = sandbox_ctr.start(store, record, root, spec, output=output, cancel=cancel)
        except BaseException:
            if remove:
                ctr.remove(store, record)
            raise
        if remove:
            ctr.remove(store, record)
        return record.id, code

    # ------------------------------------------------------------------ events

    def analyze(
        self,
        ref: str,
        *,
        platform: str | None = None,
        trees: bool = False,
        progress: Any = None,
    ) -> Any:
        """dive's figures for an image, layers read once and cached (see imgtui.analysis)."""
        from imgtui.analysis.backends import analyze_store

        return analyze_store(self, ref, platform=platform, trees=trees, progress=progress)

    def events(self) -> Iterator[ChangeEvent]:
        """Changes to names and containers, noticed by polling the store (no daemon to tell us)."""
        self.store  # noqa: B018 - an unusable store is reported before the first event
        before = self._snapshot()
        while not self._closed.wait(0.5):
            now = self._snapshot()
            if now != before:
                yield from _changes(before, now, datetime.now(timezone.utc))
                before = now

    def _snapshot(self) -> tuple[dict[str, str], dict[str, str]]:
        """(name -> image id, container id -> state); a nameless image counts by its id."""
        try:
            images = self._images()
        except BackendError:
            return {}, {}
        names = {n: i.id for i in images for n in (i.names or [f"<none>@{i.id}"])}
        return names, {r.id: r.state for r in ctr.records(self.store)}


def _changes(
    before: tuple[dict[str, str], dict[str, str]],
    now: tuple[dict[str, str], dict[str, str]],
    stamp: datetime,
) -> Iterator[ChangeEvent]:
    """docker-like events for the difference between two snapshots."""
    old_names, old_ctrs = before
    new_names, new_ctrs = now
    for name in sorted(new_names.keys() - old_names.keys()):
        yield ChangeEvent("image", "tag" if "@" not in name else "load", new_names[name], stamp)
    for name, digest in sorted(new_names.items()):
        if name in old_names and old_names[name] != digest:
            yield ChangeEvent("image", "tag", digest, stamp)
    gone = set(old_names.values()) - set(new_names.values())
    for name in sorted(old_names.keys() - new_names.keys()):
        action = "delete" if old_names[name] in gone else "untag"
        yield ChangeEvent("image", action, old_names[name], stamp)
    for cid in sorted(new_ctrs.keys() - old_ctrs.keys()):
        yield ChangeEvent("container", "create", cid, stamp)
    for cid in sorted(old_ctrs.keys() - new_ctrs.keys()):
        yield ChangeEvent("container", "destroy", cid, stamp)
    for cid in sorted(new_ctrs.keys() & old_ctrs.keys()):
        if new_ctrs[cid] != old_ctrs[cid]:
            yield ChangeEvent("container", new_ctrs[cid], cid, stamp)


# ---------------------------------------------------------------------- helpers


def _normalized(ref: str) -> str | None:
    """The full normalized name for a reference, or None when it is not a valid one."""
    try:
        return reference.normalize(ref)
    except InvalidReference:
        return None


def _tags(image: StoredImage) -> tuple[str, ...]:
    """Familiar repo:tag names; `repo@digest` names are repo digests, not tags."""
    return tuple(reference.familiar(n) for n in image.names if "@" not in n)


def _repo_digests(image: StoredImage) -> tuple[str, ...]:
    """`repo@sha256:…` names a pull or push recorded (containerd keeps them the same way)."""
    return tuple(reference.familiar(n) for n in image.names if "@" in n)


def _shared_sizes(images: list[StoredImage]) -> dict[str, int]:
    """Per image, the bytes of its layers that another image also uses (docker's SHARED SIZE)."""
    layer_users: dict[str, int] = {}
    for image in images:
        for digest in set(image.facts.layers):
            layer_users[digest] = layer_users.get(digest, 0) + 1
    return {i.id: sum(s for d, s in i.facts.sized_layers() if layer_users[d] > 1) for i in images}


def _users(store: Store) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in ctr.records(store):
        out[r.image_id] = out.get(r.image_id, 0) + 1
    return out


def _result(untagged: list[str], deleted: list[str]) -> RemoveResult:
    lines = [f"Untagged: {u}" for u in untagged] + [f"Deleted: {d}" for d in deleted]
    return RemoveResult(tuple(untagged), tuple(deleted), tuple(lines))


def _status(r: ctr.ContainerRecord) -> str:
    from imgtui import fmt

    if r.state == "running":
        return "Up " + fmt.human_duration(time.time() - r.created_at.timestamp())
    if r.state == "exited":
        finished = r.finished or r.created
        try:
            ago = fmt.time_ago(datetime.fromisoformat(finished), datetime.now(timezone.utc))
        except ValueError:
            ago = ""
        return f"Exited ({r.exit_code}) {ago}".strip()
    return "Created"


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e)
