"""Look into a registry without pulling: repositories, tags, and one remote image's config.

Plain frozen dataclasses, blocking calls: the CLI prints them, a TUI screen can call them from a
thread worker. Only manifests and configs are fetched (small JSON), never layers.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imgtui import fmt, reference
from imgtui.backends.base import HistoryEntry, InvalidArgument, RegistryError
from imgtui.registry.client import RegistryClient, split_host
from imgtui.registry.pull import choose, parse_platform
from imgtui.store import archive, oci


@dataclass(frozen=True, slots=True)
class RepositoryList:
    """The catalog of one registry, every page followed."""

    registry: str
    repositories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagRow:
    """One tag: what it points at, how big the image is compressed, for which platforms."""

    repository: str  # "host/path"
    tag: str
    digest: str  # the registry's digest of what the tag names (an index's for multi-platform)
    media_type: str
    size: int  # compressed bytes (config + layers) of the shown platform's image
    platforms: tuple[str, ...]  # "linux/amd64", …; one entry for a single-platform image
    created: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "Repository": self.repository,
            "Tag": self.tag,
            "Digest": self.digest,
            "MediaType": self.media_type,
            "Size": self.size,
            "Platforms": list(self.platforms),
            "Created": self.created.isoformat() if self.created else "",
        }


@dataclass(frozen=True, slots=True)
class RemoteLayer:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class RemoteImage:
    """One platform's image as the registry has it: manifest facts, config and history."""

    reference: str  # "host/path:tag" or "host/path@digest"
    digest: str  # what the reference resolves to (an index's digest for multi-platform)
    manifest_digest: str  # the platform manifest shown
    media_type: str
    platform: str
    platforms: tuple[str, ...]
    layers: tuple[RemoteLayer, ...]
    config: dict[str, Any] = field(hash=False)
    history: tuple[HistoryEntry, ...] = ()

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def created(self) -> datetime | None:
        return fmt.parse_rfc3339(self.config.get("created"))


def parse_target(text: str) -> tuple[str, str | None]:
    """(host, repository or None) from "HOST" or "HOST/REPO" as `registry ls` takes them."""
    host, slash, repo = text.partition("/")
    if not host:
        raise InvalidArgument(f"registry ls: {text!r} names no registry host")
    split_host(host)  # refuses a bad port
    if not slash or not repo:
        return host, None
    r = reference.parse(text)
    if r.tag or r.digest:
        raise InvalidArgument(f"registry ls: {text!r}: give a repository, not a tag or digest")
    return r.domain or host, r.path


def repositories(
    host: str, *, page_size: int = 100, client: RegistryClient | None = None
) -> RepositoryList:
    c = client or RegistryClient(host)
    repos = c.paginate(f"/v2/_catalog?n={page_size}", "repositories", "registry:catalog:*")
    return RepositoryList(host, tuple(repos))


def tags(
    host: str,
    repo: str,
    *,
    page_size: int = 100,
    workers: int = 8,
    platform: str | None = None,
    client: RegistryClient | None = None,
) -> list[TagRow]:
    """Every tag of a repository with its digest, size, platforms and creation time."""
    c = client or RegistryClient(host)
    names = list(
        c.paginate(f"/v2/{repo}/tags/list?n={page_size}", "tags", f"repository:{repo}:pull")
    )
    want = parse_platform(platform)

    def row(tag: str) -> TagRow:
        image = _image(c, repo, tag, want, with_history=False)
        return TagRow(
            repository=f"{host}/{repo}",
            tag=tag,
            digest=image.digest,
            media_type=image.media_type,
            size=image.size,
            platforms=image.platforms,
            created=image.created,
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(row, names))


def remote_image(
    text: str, *, platform: str | None = None, client: RegistryClient | None = None
) -> RemoteImage:
    """A remote image's manifest facts, config and history, without its layers."""
    r = reference.parse_docker_ref(text)
    c = client or RegistryClient(r.domain)
    return _image(
        c, r.path, r.digest or r.tag or "latest", parse_platform(platform), with_history=True
    )


def _image(
    c: RegistryClient,
    repo: str,
    ident: str,
    want: tuple[str, str, str | None],
    *,
    with_history: bool,
) -> RemoteImage:
    data, media_type, digest = c.get_manifest(repo, ident)
    top, top_type = digest, media_type
    platforms: tuple[str, ...] = ()
    where = f"{c.domain}/{repo}@{digest}"
    try:
        if media_type in oci.INDEX_TYPES:
            entries = oci.parse_index(data, f"index {where}")
            platforms = tuple(
                _platform(d.platform) for d in entries if d.platform and _real(d.platform)
            )
            try:
                chosen = choose(entries, want, where)
            except Exception:
                if not entries:
                    raise
                chosen = entries[0]
            data, media_type, digest = c.get_manifest(repo, chosen.digest)
        manifest = oci.parse_manifest(data, f"manifest {where}")
        config = oci.parse_config(
            c.get_json_blob(repo, manifest.config.digest), f"config of {where}"
        )
    except oci.FormatError as e:
        raise RegistryError(str(e)) from None
    shown = _platform(config)
    layers = tuple(RemoteLayer(d.digest, d.size, d.media_type) for d in manifest.layers)
    history = _history(config, layers) if with_history else ()
    sep = "@" if ident.startswith("sha256:") else ":"
    return RemoteImage(
        reference=f"{c.domain}/{repo}{sep}{ident}",
        digest=top,
        manifest_digest=digest,
        media_type=top_type,
        platform=shown,
        platforms=platforms or (shown,),
        layers=layers,
        config=config,
        history=history,
    )


def _real(p: dict[str, Any]) -> bool:
    return p.get("os") != "unknown"  # attestation manifests buildx adds


def _platform(p: dict[str, Any]) -> str:
    parts = [str(p.get("os", "")), str(p.get("architecture", ""))]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


def _history(config: dict[str, Any], layers: tuple[RemoteLayer, ...]) -> tuple[HistoryEntry, ...]:
    """docker history's rows, newest first, sized by the compressed layer each step made."""
    rows = []
    i = 0
    for step in config.get("history") or ():
        empty = bool(step.get("empty_layer"))
        size = 0
        if not empty and i < len(layers):
            size = layers[i].size
            i += 1
        rows.append(
            HistoryEntry(
                id="<missing>",
                created=fmt.parse_rfc3339(step.get("created")),
                created_by=str(step.get("created_by", "")),
                size=size,
                comment=str(step.get("comment", "")),
                empty_layer=empty,
            )
        )
    rows.reverse()
    return tuple(rows)


def host_platform_text() -> str:
    return "/".join(p for p in archive.host_platform() if p)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
