"""Image archives built byte by byte for the load/save tests, hostile ones included.

`Tar` writes exactly the members it is given (absolute names, links, devices, duplicates), so a
test can make any archive a careless or malicious tool could. The builders lay images out the
way each producer does: classic `docker save` (engine < 25, layer reuse as a symlink),
`docker save` of engine 25+ (blobs/ + index.json + manifest.json) and plain OCI layouts.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from imgtui import reference
from imgtui.store import oci

LAYER_TYPES = {"tar": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hexof(digest: str) -> str:
    return digest.split(":", 1)[1]


def compress(data: bytes, kind: str) -> bytes:
    """`data` as a layer or an outer archive may be compressed: tar (as is), gzip, zstd, …"""
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    assert kind == "tar", kind
    return data


def layer_tar(files: Mapping[str, bytes], *, hostile: Sequence[tarfile.TarInfo] = ()) -> bytes:
    """A layer: regular files (folders implied), plus any raw entries a test wants in it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in hostile:
            tar.addfile(info, io.BytesIO(b"\0" * info.size) if info.size else None)
    return buf.getvalue()


@dataclass
class Image:
    """An image as an archive holds it: uncompressed layer tars, their compression, its tags."""

    layers: list[bytes]
    tags: list[str] = field(default_factory=list)
    compression: list[str] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    def __post_init__(self) -> None:
        if not self.compression:
            self.compression = ["tar"] * len(self.layers)
        self.blobs = [
            compress(data, c) for data, c in zip(self.layers, self.compression, strict=True)
        ]
        platform = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            platform["variant"] = self.variant
        self.config = oci.canonical_json(
            {
                **platform,
                "created": "2024-01-02T03:04:05Z",
                "config": {"Cmd": ["sh"], "Labels": {"nonce": self.nonce}},
                "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
                "history": [{"created_by": f"layer {i}"} for i in range(len(self.layers))],
            }
        )
        self.manifest = oci.canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": oci.OCI_MANIFEST,
                "config": {
                    "mediaType": oci.OCI_CONFIG,
                    "digest": sha(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {"mediaType": LAYER_TYPES[c], "digest": sha(b), "size": len(b)}
                    for b, c in zip(self.blobs, self.compression, strict=True)
                ],
            }
        )

    @property
    def id(self) -> str:
        return sha(self.config)

    @property
    def diff_ids(self) -> list[str]:
        return [sha(data) for data in self.layers]

    @property
    def manifest_digest(self) -> str:
        return sha(self.manifest)

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": oci.OCI_MANIFEST,
            "digest": self.manifest_digest,
            "size": len(self.manifest),
        }
        if annotations:
            out["annotations"] = dict(annotations)
        return out


BASE_FILES = {
    "bin/busybox": b"\x7fELF not really busybox\n",
    "etc/passwd": b"root:x:0:0::/:/bin/sh\n",
}


def make_image(
    tags: Sequence[str] = (), *, layers: int = 2, compression: str = "tar", **kw: Any
) -> Image:
    """An image with a shared base layer and `layers - 1` layers of its own."""
    nonce = uuid.uuid4().hex
    own = [
        layer_tar({f"data/{nonce}-{i}.txt": f"{nonce} {i}\n".encode()}) for i in range(layers - 1)
    ]
    tars = [layer_tar(BASE_FILES), *own][:layers]
    return Image(tars, list(tags), [compression] * len(tars), nonce, **kw)


class Tar:
    """An archive's members, in order, exactly as given; written plain or compressed."""

    def __init__(self) -> None:
        self.members: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def _add(self, info: tarfile.TarInfo, data: bytes | None = None) -> Tar:
        info.mtime = 0
        self.members.append((info, data))
        return self

    def file(self, name: str, data: bytes) -> Tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        return self._add(info, data)

    def json(self, name: str, obj: Any) -> Tar:
        return self.file(name, json.dumps(obj).encode())

    def dir(self, name: str) -> Tar:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        return self._add(info)

    def link(self, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        return self._add(info)

    def special(self, name: str, kind: bytes) -> Tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.devmajor, info.devminor = 1, 3
        return self._add(info)

    def names(self) -> list[str]:
        return [info.name for info, _ in self.members]

    def replace(self, name: str, data: bytes) -> Tar:
        for i, (info, _) in enumerate(self.members):
            if info.name == name:
                info.size = len(data)
                self.members[i] = (info, data)
                return self
        raise KeyError(name)

    def remove(self, name: str) -> Tar:
        before = len(self.members)
        self.members = [(i, d) for i, d in self.members if i.name != name]
        assert len(self.members) < before, name
        return self

    def data(self, name: str) -> bytes:
        for info, data in self.members:
            if info.name == name:
                assert data is not None
                return data
        raise KeyError(name)

    def bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()

    def write(self, path: Path, outer: str = "tar") -> Path:
        path.write_bytes(compress(self.bytes(), outer))
        return path


def docker_classic(images: Sequence[Image], *, link_duplicates: bool = True) -> Tar:
    """`docker save` of engine < 25: a folder per layer, a layer seen before is a symlink to it."""
    tar = Tar()
    manifest = []
    repositories: dict[str, dict[str, str]] = {}
    first_path: dict[str, str] = {}
    written: set[str] = set()
    for image in images:
        paths = []
        chain = ""
        for data in image.layers:
            chain = hashlib.sha256((chain + sha(data)).encode()).hexdigest()  # a v1 id per chain
            path = f"{chain}/layer.tar"
            paths.append(path)
            if path in written:
                continue
            written.add(path)
            tar.dir(chain)
            tar.file(f"{chain}/VERSION", b"1.0")
            tar.json(f"{chain}/json", {"id": chain})
            if link_duplicates and sha(data) in first_path:
                tar.link(path, f"../{first_path[sha(data)]}")
            else:
                tar.file(path, data)
                first_path.setdefault(sha(data), path)
        config_name = f"{hexof(image.id)}.json"
        if config_name not in tar.names():
            tar.file(config_name, image.config)
        manifest.append({"Config": config_name, "RepoTags": image.tags or None, "Layers": paths})
        for t in image.tags:
            repo, _, tag = t.rpartition(":")
            repositories.setdefault(repo, {})[tag] = paths[-1].split("/")[0]
    tar.json("manifest.json", manifest)
    if repositories:
        tar.json("repositories", repositories)
    return tar


def _blobs(tar: Tar, images: Sequence[Image], written: set[str]) -> None:
    for image in images:
        for data in (image.manifest, image.config, *image.blobs):
            name = f"blobs/sha256/{hexof(sha(data))}"
            if name not in written:
                written.add(name)
                tar.file(name, data)


def docker25(images: Sequence[Image]) -> Tar:
    """`docker save` of engine 25+: an OCI layout whose manifest.json points into blobs/."""
    tar = Tar().dir("blobs").dir("blobs/sha256")
    _blobs(tar, images, set())
    index = []
    manifest = []
    for image in images:
        for t in image.tags:
            full = reference.normalize(t)
            ann = {oci.NAME_ANNOTATION: full, oci.REF_ANNOTATION: full.rpartition(":")[2]}
            index.append(image.descriptor(ann))
        if not image.tags:
            index.append(image.descriptor())
        manifest.append(
            {
                "Config": f"blobs/sha256/{hexof(image.id)}",
                "RepoTags": image.tags or None,
                "Layers": [f"blobs/sha256/{hexof(sha(b))}" for b in image.blobs],
            }
        )
    tar.json("index.json", {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index})
    tar.json("manifest.json", manifest)
    tar.json("oci-layout", {"imageLayoutVersion": "1.0.0"})
    return tar


def oci_layout(entries: Sequence[tuple[Image | list[Image], Mapping[str, str]]]) -> Tar:
    """An OCI layout: each entry an image, or a list of images of several platforms (an index),
    with the annotations of its index.json descriptor."""
    tar = Tar().file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}').dir("blobs/sha256")
    written: set[str] = set()
    index = []
    for what, ann in entries:
        if isinstance(what, Image):
            _blobs(tar, [what], written)
            index.append(what.descriptor(ann))
            continue
        _blobs(tar, what, written)
        nested = oci.canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": oci.OCI_INDEX,
                "manifests": [
                    {**image.descriptor(), "platform": _platform(image)} for image in what
                ],
            }
        )
        tar.file(f"blobs/sha256/{hexof(sha(nested))}", nested)
        desc: dict[str, Any] = {
            "mediaType": oci.OCI_INDEX,
            "digest": sha(nested),
            "size": len(nested),
        }
        if ann:
            desc["annotations"] = dict(ann)
        index.append(desc)
    tar.json("index.json", {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index})
    return tar


def _platform(image: Image) -> dict[str, str]:
    out = {"architecture": image.architecture, "os": image.os}
    if image.variant:
        out["variant"] = image.variant
    return out


def tree(root: Path) -> set[str]:
    """Every path under `root` (files, folders, links), relative, to see what a load created."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out
