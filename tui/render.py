"""Docker-shaped text and JSON for the CLI: pure functions from backend dataclasses to strings.

Kept apart from argument parsing so every table can be tested byte for byte against what the docker
CLI prints for the same data, without a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from imgtui import fmt, reference
from imgtui.backends.base import (
    BuildCacheUsage,
    ContainerSummary,
    DiskUsage,
    HistoryEntry,
    ImageSummary,
    PruneReport,
)

NONE = "<none>"


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One line of `docker images`: an image can give several (one per repository and tag)."""

    repository: str
    tag: str
    digest: str
    image: ImageSummary


def _split_tag(ref: str) -> tuple[str, str]:
    repo, tag = reference.split_repo_tag(ref)
    return repo, tag or NONE


def _split_digest(ref: str) -> tuple[str, str]:
    repo, _, digest = ref.partition("@")
    return repo, digest


def image_rows(images: Iterable[ImageSummary], *, digests: bool = False) -> list[ImageRow]:
    """Rows in docker's order and grouping: tags per repository, then digest-only repositories."""
    rows: list[ImageRow] = []
    for image in images:
        if not image.repo_tags and not image.repo_digests:
            rows.append(ImageRow(NONE, NONE, NONE, image))
            continue
        tags: dict[str, list[str]] = {}
        for ref in image.repo_tags:
            repo, tag = _split_tag(ref)
            tags.setdefault(repo, []).append(tag)
        repo_digests: dict[str, list[str]] = {}
        for ref in image.repo_digests:
            repo, digest = _split_digest(ref)
            repo_digests.setdefault(repo, []).append(digest)
        for repo, repo_tags in tags.items():
            ds = repo_digests.pop(repo, []) if digests else []
            repo_digests.pop(repo, None)
            for tag in repo_tags:
                if not ds:
                    rows.append(ImageRow(repo, tag, NONE, image))
                for d in ds:
                    rows.append(ImageRow(repo, tag, d, image))
        for repo, ds in repo_digests.items():
            if digests:
                rows.extend(ImageRow(repo, NONE, d, image) for d in ds)
            else:
                rows.append(ImageRow(repo, NONE, "", image))
    return rows


def _image_id(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else fmt.truncate_id(image_id)


def go_time(dt: datetime) -> str:
    """Go's time.Time.String() in local time, as docker's CreatedAt fields print it."""
    local = dt.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + (local.tzname() or "UTC")


def rfc3339(dt: datetime) -> str:
    local = dt.astimezone()
    text = local.isoformat(timespec="seconds")
    return (
        text.replace("+00:00", "Z") if local.utcoffset() == timezone.utc.utcoffset(None) else text
    )


def images_table(
    rows: Sequence[ImageRow], now: datetime, *, digests: bool = False, no_trunc: bool = False
) -> str:
    headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else [])
    headers += ["IMAGE ID", "CREATED", "SIZE"]
    body = []
    for r in rows:
        cells = [r.repository, r.tag] + ([r.digest] if digests else [])
        cells += [
            _image_id(r.image.id, no_trunc),
            fmt.time_ago(r.image.created, now),
            fmt.human_size(r.image.size),
        ]
        body.append(cells)
    return fmt.table(headers, body)


def _na(value: int | None, render) -> str:
    return "N/A" if value is None else render(value)


def image_json(r: ImageRow, now: datetime, *, no_trunc: bool = False) -> dict[str, str]:
    """The object `docker images --format json` prints per row: same keys, same strings."""
    i = r.image
    unique = None if i.shared_size is None else i.size - i.shared_size
    return {
        "Containers": _na(i.containers, str),
        "CreatedAt": go_time(i.created),
        "CreatedSince": fmt.time_ago(i.created, now),
        "Digest": r.digest or NONE,
        "ID": _image_id(i.id, no_trunc),
        "Repository": r.repository,
        "SharedSize": _na(i.shared_size, lambda n: fmt.human_size(n, 4)),
        "Size": fmt.human_size(i.size),
        "Tag": r.tag,
        "UniqueSize": _na(unique, lambda n: fmt.human_size(n, 4)),
        "VirtualSize": fmt.human_size(i.size, 4),
    }


def history_table(
    entries: Sequence[HistoryEntry], now: datetime, *, no_trunc: bool = False, human: bool = True
) -> str:
    body = []
    for e in entries:
        created_by = e.created_by.replace("\t", " ")
        body.append(
            [
                e.id if no_trunc or e.id == "<missing>" else fmt.truncate_id(e.id),
                _history_created(e, now, human),
                created_by if no_trunc else fmt.ellipsis(created_by, 45),
                fmt.human_size(e.size) if human else str(e.size),
                e.comment,
            ]
        )
    created = "CREATED" if human else "CREATED AT"
    return fmt.table(["IMAGE", created, "CREATED BY", "SIZE", "COMMENT"], body)


def _history_created(e: HistoryEntry, now: datetime, human: bool) -> str:
    if e.created is None:
        return "N/A"
    return fmt.time_ago(e.created, now, history=True) if human else rfc3339(e.created)


def history_json(
    e: HistoryEntry, now: datetime, *, no_trunc: bool = False, human: bool = True
) -> dict[str, str]:
    created_by = e.created_by.replace("\t", " ")  # docker does this even with --no-trunc
    if not no_trunc:
        created_by = fmt.ellipsis(created_by, 45)
    return {
        "Comment": e.comment,
        "CreatedAt": rfc3339(e.created) if e.created else "",
        "CreatedBy": created_by,
        "CreatedSince": _history_created(e, now, human),
        "ID": e.id if no_trunc or e.id == "<missing>" else fmt.truncate_id(e.id),
        "Size": fmt.human_size(e.size) if human else str(e.size),
    }


def _reclaimable(reclaimable: int, total: int) -> str:
    text = fmt.human_size(reclaimable, 4)
    if total > 0:
        return f"{text} ({reclaimable * 100 // total}%)"
    return text


def df_rows(du: DiskUsage) -> list[dict[str, str]]:
    """The four rows of `docker system df`, as its JSON format spells them."""
    return [
        {
            "Active": str(du.images_active),
            "Reclaimable": _reclaimable(du.images_reclaimable, du.layers_size),
            "Size": fmt.human_size(du.layers_size, 4),
            "TotalCount": str(len(du.images)),
            "Type": "Images",
        },
        {
            "Active": str(du.containers_active),
            "Reclaimable": _reclaimable(du.containers_reclaimable, du.containers_size),
            "Size": fmt.human_size(du.containers_size, 4),
            "TotalCount": str(len(du.containers)),
            "Type": "Containers",
        },
        {
            "Active": str(du.volumes_active),
            "Reclaimable": _reclaimable(du.volumes_reclaimable, du.volumes_size),
            "Size": fmt.human_size(du.volumes_size, 4),
            "TotalCount": str(len(du.volumes)),
            "Type": "Local Volumes",
        },
        {
            "Active": str(du.build_cache_active),
            "Reclaimable": fmt.human_size(du.build_cache_reclaimable, 4),
            "Size": fmt.human_size(du.build_cache_size, 4),
            "TotalCount": str(len(du.build_cache)),
            "Type": "Build Cache",
        },
    ]


def df_table(du: DiskUsage) -> str:
    keys = ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
    return fmt.table(
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        [[row[k] for k in keys] for row in df_rows(du)],
    )


def df_verbose(du: DiskUsage, now: datetime) -> str:
    """`docker system df -v`: images (first tag only, as docker), containers, volumes, cache."""
    images = []
    for i in du.images:
        repo, tag = _split_tag(i.repo_tags[0]) if i.repo_tags else (NONE, NONE)
        images.append(
            [
                repo,
                tag,
                fmt.truncate_id(i.id),
                fmt.time_ago(i.created, now),
                fmt.human_size(i.size),
                fmt.human_size(i.shared_size, 4),
                fmt.human_size(i.unique_size, 4),
                str(i.containers),
            ]
        )
    containers = [
        [
            c.id[:12],
            c.image,
            json.dumps(fmt.ellipsis(c.command, 20), ensure_ascii=False),
            str(c.local_volumes),
            fmt.human_size(c.size_rw),
            fmt.time_ago(c.created, now) if c.created else "",
            c.status,
            c.name,
        ]
        for c in du.containers
    ]
    volumes = [
        [v.name, str(v.links), "N/A" if v.size < 0 else fmt.human_size(v.size, 4)]
        for v in du.volumes
    ]
    cache = [
        [
            b.id[:12],
            b.kind,
            fmt.human_size(b.size, 4),
            fmt.time_ago(b.created, now) if b.created else "",
            fmt.time_ago(b.last_used, now) if b.last_used else "",
            str(b.usage_count),
            "true" if b.shared else "false",
        ]
        for b in sorted(du.build_cache, key=_cache_order)
    ]
    image_headers = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    image_headers += ["SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]
    container_headers = ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE"]
    container_headers += ["CREATED", "STATUS", "NAMES"]
    return (
        "Images space usage:\n\n"
        + fmt.table(image_headers, images)
        + "\nContainers space usage:\n\n"
        + fmt.table(container_headers, containers)
        + "\nLocal Volumes space usage:\n\n"
        + fmt.table(["VOLUME NAME", "LINKS", "SIZE"], volumes)
        + f"\nBuild cache usage: {fmt.human_size(du.build_cache_size, 4)}\n\n"
        + fmt.table(
            ["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], cache
        )
    )


def _cache_order(b: BuildCacheUsage) -> tuple[bool, float]:
    """docker lists shared records last, then the most recently used first."""
    last = b.last_used.timestamp() if b.last_used else 0.0
    return (b.shared, -last)


def image_usage_json(du: DiskUsage, now: datetime) -> list[dict[str, Any]]:
    """Machine-readable per-image usage for `df -v --format json`: exact bytes, not text."""
    return [
        {
            "ID": i.id,
            "RepoTags": list(i.repo_tags),
            "Created": i.created.isoformat(),
            "CreatedSince": fmt.time_ago(i.created, now),
            "Size": i.size,
            "SharedSize": i.shared_size,
            "UniqueSize": i.unique_size,
            "Containers": i.containers,
        }
        for i in du.images
    ]


def ps_table(
    containers: Sequence[ContainerSummary], now: datetime, *, no_trunc: bool = False
) -> str:
    body = []
    for c in containers:
        command = c.command if no_trunc else fmt.ellipsis(c.command, 20)
        body.append(
            [
                c.id if no_trunc else c.id[:12],
                c.image
                if no_trunc or not c.image.startswith("sha256:")
                else fmt.truncate_id(c.image),
                json.dumps(command, ensure_ascii=False),
                fmt.time_ago(c.created, now),
                c.status,
                "",
                ",".join(c.names),
            ]
        )
    return fmt.table(
        ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], body
    )


def ps_json(c: ContainerSummary, now: datetime) -> dict[str, str]:
    return {
        "Command": json.dumps(fmt.ellipsis(c.command, 20), ensure_ascii=False),
        "CreatedAt": go_time(c.created),
        "ID": c.id[:12],
        "Image": c.image,
        "Labels": ",".join(f"{k}={v}" for k, v in c.labels.items()),
        "Names": ",".join(c.names),
        "RunningFor": fmt.time_ago(c.created, now),
        "Size": "N/A" if c.size_rw is None else fmt.human_size(c.size_rw),
        "State": c.state,
        "Status": c.status,
    }


def prune_lines(report: PruneReport) -> list[str]:
    """The body `docker image prune` / `docker system prune` print before the total."""
    out: list[str] = []

    def section(title: str, items: Iterable[str]) -> None:
        items = list(items)
        if items:
            out.append(title)
            out.extend(items)
            out.append("")

    section("Deleted Containers:", report.deleted_containers)
    section("Deleted Networks:", report.deleted_networks)
    section("Deleted Volumes:", report.deleted_volumes)
    section(
        "Deleted Images:",
        [f"untagged: {u}" for u in report.untagged]
        + [f"deleted: {d}" for d in report.deleted_images],
    )
    section("Deleted build cache objects:", report.deleted_build_cache)
    out.append(f"Total reclaimed space: {fmt.human_size(report.space_reclaimed, 4)}")
    return out


def prune_json(report: PruneReport) -> dict[str, Any]:
    return {
        "ContainersDeleted": list(report.deleted_containers),
        "NetworksDeleted": list(report.deleted_networks),
        "VolumesDeleted": list(report.deleted_volumes),
        "ImagesUntagged": list(report.untagged),
        "ImagesDeleted": list(report.deleted_images),
        "CachesDeleted": list(report.deleted_build_cache),
        "SpaceReclaimed": report.space_reclaimed,
    }
