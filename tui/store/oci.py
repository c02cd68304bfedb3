"""OCI and Docker v2 media types, descriptors and the manifest/config shapes the store reads.

Both families are understood wherever an image enters (load, pull): a manifest is read into one
`Manifest` shape whatever its media type, and layers are recognised as gzip, zstd or plain tar by
their first bytes, since media types in the wild are not always truthful.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from imgtui.store import tarindex

OCI_LAYOUT_VERSION = "1.0.0"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
LAYER_TYPES = (
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_FOREIGN_LAYER,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)

# containerd's naming convention for images kept in an OCI layout.
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
# Where an image's original Dockerfile is kept (a blob digest), when the builder knew it.
# The runtime fields of an image config that Dockerfile instructions set (docker's names): what
# the builder carries between stages, `diff` compares and the build tests check.
RUNTIME_CONFIG_KEYS = (
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)
DOCKERFILE_ANNOTATION = "org.imgtui.dockerfile.digest"

DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")

MAX_JSON_BLOB = 16 << 20  # manifests and configs larger than this are refused as hostile


class FormatError(ValueError):
    """A manifest, config or index that is not what it claims; str() says what and where."""


def check_digest(digest: str, where: str = "") -> str:
    """The digest itself, or FormatError: only sha256 digests name blobs, and never a path."""
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        at = f" in {where}" if where else ""
        raise FormatError(f"invalid digest {digest!r}{at}")
    return digest


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    platform: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Descriptor:
        if not isinstance(obj, dict):
            raise FormatError(f"{where}: descriptor is not an object")
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise FormatError(f"{where}: descriptor size {size!r} is not a non-negative integer")
        media_type = obj.get("mediaType") or ""
        if not isinstance(media_type, str):
            raise FormatError(f"{where}: mediaType is not a string")
        annotations = obj.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise FormatError(f"{where}: annotations must map strings to strings")
        platform = obj.get("platform")
        return cls(
            media_type=media_type,
            digest=check_digest(obj.get("digest"), where),
            size=size,
            annotations=dict(annotations),
            platform=platform if isinstance(platform, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest, Docker v2 schema 2 or OCI, in one shape."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def parse_manifest(data: bytes, where: str) -> Manifest:
    obj = parse_json(data, where)
    media_type = obj.get("mediaType") or (OCI_MANIFEST if "config" in obj else "")
    if media_type in INDEX_TYPES or "manifests" in obj:
        raise FormatError(f"{where}: an image index, not an image manifest")
    if media_type not in MANIFEST_TYPES:
        raise FormatError(f"{where}: unsupported manifest media type {media_type!r}")
    if obj.get("schemaVersion") != 2:
        raise FormatError(f"{where}: schemaVersion {obj.get('schemaVersion')!r}, expected 2")
    layers = obj.get("layers")
    if not isinstance(layers, list):
        raise FormatError(f"{where}: layers is not a list")
    annotations = obj.get("annotations") or {}
    return Manifest(
        media_type=media_type,
        config=Descriptor.from_json(obj.get("config"), f"{where} config"),
        layers=tuple(Descriptor.from_json(d, f"{where} layer {i}") for i, d in enumerate(layers)),
        annotations=dict(annotations) if isinstance(annotations, dict) else {},
    )


def parse_index(data: bytes, where: str) -> list[Descriptor]:
    obj = parse_json(data, where)
    manifests = obj.get("manifests")
    if obj.get("schemaVersion") != 2 or not isinstance(manifests, list):
        raise FormatError(f"{where}: not an image index (schemaVersion 2 with a manifests list)")
    return [Descriptor.from_json(d, f"{where} manifest {i}") for i, d in enumerate(manifests)]


def parse_json(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_JSON_BLOB:
        raise FormatError(f"{where}: {len(data)} bytes of JSON, more than {MAX_JSON_BLOB}")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: JSON is not an object")
    return obj


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    """An image config: checked for the fields every reader relies on."""
    obj = parse_json(data, where)
    rootfs = obj.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise FormatError(f"{where}: image config without rootfs.diff_ids")
    for i, d in enumerate(rootfs["diff_ids"]):
        check_digest(d, f"{where} rootfs.diff_ids[{i}]")
    history = obj.get("history", [])
    if history is not None and not isinstance(history, list):
        raise FormatError(f"{where}: history is not a list")
    return obj


def canonical_json(obj: Any) -> bytes:
    """Compact JSON as the Go tools write it, so digests are stable."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


layer_compression = tarindex.layer_compression  # the magic bytes, kept in one place
