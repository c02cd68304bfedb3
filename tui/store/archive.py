"""Image archives in and out of the store: `docker save` tars of every era and OCI layouts.

An archive is untrusted input. It is never extracted: its members are read in place (random
access; a compressed archive is first inflated, under a cap, to a temp file in the store) and
streamed into `Store.write_blob` with the digest they must have, every layer is scanned once
(diff_id, hostile entries, bombs), and only when every blob of every image checked out are the
names set, all at once, under one lock. A refused archive leaves at most unreferenced blobs,
which prune sweeps and fsck lists as orphans.

Formats read:
  * docker save, classic (engine < 25): manifest.json, <id>.json configs, <v1 id>/layer.tar,
    where a layer seen twice is a relative symlink to the first copy (docker writes those);
  * docker save, engine 25+ / containerd store: manifest.json pointing at blobs/sha256/<hex>,
    beside index.json and oci-layout; layers may be compressed;
  * OCI image layouts (oci-layout, index.json, blobs/), nested indexes resolved to this
    machine's platform; names from containerd's annotations.
Written: one tar that is both (docker load of engine 20.10 and later reads manifest.json, OCI
tools read the layout).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import platform as host
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from imgtui import reference
from imgtui.fsutil import atomic_file
from imgtui.store import layers, oci, tarindex
from imgtui.store.layers import LayerInfo
from imgtui.store.layout import Store, StoreError
from imgtui.store.oci import Descriptor, FormatError

__all__ = ["LoadedImage", "host_platform", "load_archive", "save_archive"]

# An archive with more members than this is refused before anything is read.
MAX_MEMBERS = tarindex.MAX_MEMBERS
# A compressed archive may inflate to at most this many times its size, and this much in all.
MAX_OUTER_RATIO = layers.MAX_RATIO
MAX_OUTER_BYTES = layers.MAX_UNCOMPRESSED
# Image indexes nested deeper than this are refused (a loop of indexes would never end).
MAX_INDEX_DEPTH = 4

BLOCK = 512
CHUNK = 1 << 20

_ARCHES = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


@dataclass(frozen=True, slots=True)
class LoadedImage:
    manifest: Descriptor  # as recorded in index.json (without the name annotations)
    config_digest: str  # the image id
    names: tuple[str, ...]  # full normalized refs of this archive now pointing at it


def host_platform() -> tuple[str, str, str | None]:
    """(os, architecture, variant) of this machine in OCI terms, to pick from image indexes."""
    machine = host.machine().lower()
    arch, variant = _ARCHES.get(machine, (machine, None))
    return "linux", arch, variant


# ---------------------------------------------------------------------------------- load


def load_archive(
    store: Store,
    path: Path,
    *,
    on_line: Callable[[str], None] | None = None,
    platform: str | None = None,
) -> list[LoadedImage]:
    """Import every image of an archive, or none: names appear only once all blobs checked out.

    `platform` ("os/arch[/variant]") overrides the machine's own when an OCI index offers several.
    """
    path = Path(path)
    label = _printable(path.name or str(path))
    want = _parse_platform(platform) if platform else host_platform()
    # From the first blob written until the names are set, a sweep must not take them.
    with store.ingesting():
        try:
            with _open_archive(store, path, label) as archive:
                staged = _Importer(store, archive, want).run()
        except FormatError as e:
            if str(e).startswith(f"{label}: "):
                raise
            raise type(e)(f"{label}: {e}") from None  # the shared parsers' messages
        loaded, lines = _commit(store, staged)
    if on_line is not None:
        for line in lines:
            on_line(line)
    return loaded


def _commit(store: Store, staged: list[_Staged]) -> tuple[list[LoadedImage], list[str]]:
    """Name every staged image under one lock; docker's lines for what changed."""
    existing = _store_configs(store)
    lines: list[str] = []
    targets: list[Descriptor] = []
    with store.locked() as index:
        present = index.manifests()
        for image in staged:
            target = image.manifest
            prior = existing.get(image.config_digest)
            if target.digest not in present and prior is not None and prior.digest in present:
                # The image is already here under another manifest (pulled, or loaded from
                # another format): keep one manifest per image id, as docker keeps one image.
                target = prior
            targets.append(target)
            for name in image.names:
                previous = index.get(name)
                if previous is not None and previous.digest != target.digest:
                    old = _config_of(store, previous.digest, existing)
                    if old is not None and old != image.config_digest:
                        lines.append(
                            f"The image {reference.familiar(name)} already exists, renaming "
                            f"the old one with ID {old} to empty string"
                        )
                index.set_name(name, target)
                lines.append(f"Loaded image: {reference.familiar(name)}")
            if not image.names:
                index.add_dangling(target)
                lines.append(f"Loaded image ID: {image.config_digest}")
            existing.setdefault(image.config_digest, target)
        loaded: list[LoadedImage] = []
        for image, target in zip(staged, targets, strict=True):
            if any(done.manifest.digest == target.digest for done in loaded):
                continue
            names = [
                n
                for other, t in zip(staged, targets, strict=True)
                if t.digest == target.digest
                for n in other.names
            ]
            still = tuple(
                dict.fromkeys(
                    n
                    for n in names
                    if (e := index.get(n)) is not None and e.digest == target.digest
                )
            )
            loaded.append(LoadedImage(_plain(target), image.config_digest, still))
    return loaded, lines


@dataclass
class _Staged:
    """An image whose blobs are all in the store and verified, not yet named."""

    manifest: Descriptor
    config_digest: str
    names: list[str]


@dataclass
class _Candidate:
    """An OCI manifest found in a docker archive's layout, usable instead of building one."""

    descriptor: Descriptor
    manifest: oci.Manifest
    data: bytes


def _kind(member: tarfile.TarInfo) -> str:
    """A tarfile member's kind in `tarindex` terms (tarfile reads pax, GNU and sparse headers)."""
    if member.isreg():
        return tarindex.FILE
    if member.isdir():
        return tarindex.FOLDER
    if member.issym():
        return tarindex.SYMLINK
    if member.islnk():
        return tarindex.HARDLINK
    if member.ischr() or member.isblk():
        return tarindex.DEVICE
    if member.isfifo():
        return tarindex.FIFO
    return tarindex.kind_of_flag(member.type)


class _Archive:
    """A random-access view of a checked archive: member names normalized, links resolved."""

    def __init__(self, tar: tarfile.TarFile, raw: IO[bytes], size: int, label: str) -> None:
        self.tar = tar
        self.label = label
        self.index = tarindex.MemberIndex(label, FormatError, MAX_MEMBERS)
        self.files: dict[str, tarfile.TarInfo] = self.index.files
        self.links = self.index.links  # symlink name -> the regular file it names
        self._check(raw, size)

    def _check(self, raw: IO[bytes], size: int) -> None:
        label = self.label
        index = self.index
        try:
            for member in self.tar:
                name = index.add(member.name, _kind(member), member, member.linkname)
                end = member.offset_data + member.size
                if member.isreg() and not member.issparse() and end > size:
                    raise FormatError(
                        f"{label}: truncated: member {name!r} ends {end - size} bytes past the "
                        "end of the file"
                    )
        except tarfile.TarError as e:
            where = f" after member {index.last!r}" if index.last else ""
            raise FormatError(f"{label}: truncated or corrupt tar{where} ({e})") from None
        if not len(index):
            raise FormatError(f"{label}: an empty tar archive")
        # tarfile stops quietly at a header it cannot read or at the end of the data; only a
        # zero block at that point is the real end of the archive.
        offset = self.tar.offset
        raw.seek(offset)
        block = raw.read(BLOCK)
        if len(block) < BLOCK:
            raise FormatError(
                f"{label}: truncated after member {index.last!r} (no end-of-archive marker)"
            )
        if block.count(0) != BLOCK:
            raise FormatError(
                f"{label}: unreadable tar header at byte {offset}, after {index.last!r}"
            )
        index.finish()

    # -------------------------------------------------------------- access by name

    def resolve(self, ref: Any, where: str) -> tuple[str, list[str]]:
        """A path named by manifest.json or a digest: the file holding it, and the names used."""
        return self.index.resolve(ref, where)

    def has(self, name: str) -> bool:
        return self.index.has(name)

    def size(self, name: str) -> int:
        return int(self.files[name].size)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        f = self.tar.extractfile(self.files[name])
        assert f is not None  # a regular file always has data
        try:
            yield _TarReader(f, self.label, name)  # type: ignore[misc]
        finally:
            f.close()

    def read(self, name: str, what: str, limit: int) -> bytes:
        """A small member (JSON), refused before reading when larger than `limit`."""
        size = self.size(name)
        if size > limit:
            raise FormatError(f"{self.label}: {what}: {size} bytes of JSON, more than {limit}")
        with self.open(name) as f:
            return f.read()


class _TarReader:
    """A member's data; a short read (truncated archive) becomes a FormatError."""

    def __init__(self, raw: IO[bytes], label: str, name: str) -> None:
        self.raw = raw
        self.label = label
        self.name = name

    def read(self, n: int = -1) -> bytes:
        try:
            return self.raw.read(n)
        except (tarfile.TarError, EOFError) as e:
            raise FormatError(f"{self.label}: truncated: member {self.name!r} ({e})") from None


class _Importer:
    """Reads one checked archive and writes its blobs into the store; names nothing."""

    def __init__(self, store: Store, archive: _Archive, want: tuple[str, str, str | None]) -> None:
        self.store = store
        self.archive = archive
        self.label = archive.label
        self.want = want
        self.layers: dict[str, LayerInfo] = {}  # archive file -> its layer, once verified
        self.blobs: dict[str, tuple[str, int]] = {}  # archive file -> (digest, size) stored

    def run(self) -> list[_Staged]:
        a = self.archive
        if a.has("manifest.json"):
            return self.docker()
        if a.has("index.json"):
            if not a.has("oci-layout"):
                raise FormatError(
                    f"{self.label}: index.json but no oci-layout file: not an OCI image layout"
                )
            self.check_layout()
            return self.oci()
        if a.has("repositories"):
            raise FormatError(
                f"{self.label}: no manifest.json, only 'repositories': "
                "an archive of docker before 1.10, which is not supported"
            )
        raise FormatError(
            f"{self.label}: neither manifest.json (docker save) nor index.json (OCI layout) "
            "at the top of the archive"
        )

    def fail(self, message: str) -> FormatError:
        return FormatError(f"{self.label}: {message}")

    # -------------------------------------------------------------- docker save

    def docker(self) -> list[_Staged]:
        a = self.archive
        name, _ = a.resolve("manifest.json", "manifest.json")
        data = a.read(name, "manifest.json", oci.MAX_JSON_BLOB)
        try:
            entries = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise self.fail(f"manifest.json: not valid JSON ({e})") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail("manifest.json is not a list of image objects")
        if not entries:
            raise self.fail("manifest.json lists no images")
        plans = []
        for i, entry in enumerate(entries):
            where = f"manifest.json image {i}"
            config = entry.get("Config")
            layer_refs = entry.get("Layers")
            tags = entry.get("RepoTags")
            if not isinstance(config, str):
                raise self.fail(f"{where}: Config is not a string")
            if not isinstance(layer_refs, list) or not all(isinstance(x, str) for x in layer_refs):
                raise self.fail(f"{where}: Layers is not a list of strings")
            if tags is None:
                tags = []
            if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
                raise self.fail(f"{where}: RepoTags is not a list of strings")
            config_file = a.resolve(config, f"{where} Config")
            layer_files = [a.resolve(r, f"{where} layer {j}") for j, r in enumerate(layer_refs)]
            names = [self.name(t, f"{where} RepoTags") for t in tags]
            plans.append((where, config, config_file, layer_refs, layer_files, names))
        candidates = self.oci_candidates() if a.has("index.json") and a.has("oci-layout") else {}
        staged = []
        for where, config, (config_name, config_names), layer_refs, layer_files, names in plans:
            config_data = a.read(config_name, f"{where} Config {config!r}", oci.MAX_JSON_BLOB)
            config_digest = _sha256(config_data)
            claimed = _claimed(config_names, where, self.label, config=True)
            if claimed is not None and claimed != config_digest:
                raise self.fail(
                    f"config {config!r} has digest {config_digest}, not the {claimed} its name says"
                )
            parsed = oci.parse_config(config_data, f"config {config!r}")
            diff_ids = parsed["rootfs"]["diff_ids"]
            if len(diff_ids) != len(layer_refs):
                raise self.fail(
                    f"{where} lists {_count(len(layer_refs), 'layer')}, "
                    f"but its config has {_count(len(diff_ids), 'diff_id')}"
                )
            candidate = candidates.get(config_digest)
            if candidate is not None:
                staged.append(_Staged(self.oci_manifest(candidate), config_digest, names))
                continue
            descriptors = []
            for ref, (layer_name, layer_names), diff_id in zip(
                layer_refs, layer_files, diff_ids, strict=True
            ):
                expected = _claimed(layer_names, where, self.label)
                info = self.layer(layer_name, f"layer {ref!r}", diff_id, expected, None)
                descriptors.append(
                    Descriptor(
                        _LAYER_TYPES[info.compression], info.digest, self.blobs[layer_name][1]
                    )
                )
            self.store.write_blob(config_data, expected_digest=config_digest)
            manifest = oci.Manifest(
                media_type=oci.OCI_MANIFEST,
                config=Descriptor(oci.OCI_CONFIG, config_digest, len(config_data)),
                layers=tuple(descriptors),
            )
            digest, size = self.store.write_json_blob(manifest.to_json())
            staged.append(_Staged(Descriptor(oci.OCI_MANIFEST, digest, size), config_digest, names))
        return staged

    def oci_candidates(self) -> dict[str, _Candidate]:
        """OCI manifests in a docker 25+ archive, by config digest, whose blobs are all present.

        manifest.json stays authoritative (a layout may list other platforms' manifests without
        their blobs); a manifest found here only replaces the one that would be built, so a
        save -> load round trip keeps manifest digests.
        """
        self.check_layout()
        found: dict[str, _Candidate] = {}
        for i, desc in enumerate(self.index_entries()):
            with contextlib.suppress(_NotHere):
                chosen = self.platform_manifest(desc, f"index.json manifest {i}", 0, lenient=True)
                data = self.json_blob(chosen, "manifest", lenient=True)
                try:
                    manifest = oci.parse_manifest(data, f"manifest {chosen.digest}")
                except FormatError:
                    continue
                needed = [manifest.config, *manifest.layers]
                if all(self.archive.has(_blob_name(d.digest)) for d in needed):
                    found.setdefault(manifest.config.digest, _Candidate(chosen, manifest, data))
        return found

    # -------------------------------------------------------------- OCI layout

    def check_layout(self) -> None:
        name, _ = self.archive.resolve("oci-layout", "oci-layout")
        obj = oci.parse_json(self.archive.read(name, "oci-layout", 4096), "oci-layout")
        if obj.get("imageLayoutVersion") != oci.OCI_LAYOUT_VERSION:
            raise self.fail(
                f"oci-layout: imageLayoutVersion {obj.get('imageLayoutVersion')!r}, "
                f"expected {oci.OCI_LAYOUT_VERSION!r}"
            )

    def index_entries(self) -> list[Descriptor]:
        name, _ = self.archive.resolve("index.json", "index.json")
        data = self.archive.read(name, "index.json", oci.MAX_JSON_BLOB)
        return oci.parse_index(data, "index.json")

    def oci(self) -> list[_Staged]:
        entries = self.index_entries()
        if not entries:
            raise self.fail("index.json lists no images")
        staged = []
        for i, desc in enumerate(entries):
            where = f"index.json manifest {i}"
            names = self.oci_names(desc.annotations, where)
            chosen = self.platform_manifest(desc, where, 0, lenient=False)
            data = self.json_blob(chosen, "manifest", lenient=False)
            manifest = oci.parse_manifest(data, f"manifest {chosen.digest}")
            staged_manifest = self.oci_manifest(_Candidate(chosen, manifest, data))
            staged.append(_Staged(staged_manifest, manifest.config.digest, names))
        return staged

    def oci_names(self, annotations: dict[str, str], where: str) -> list[str]:
        """containerd's full name, else a ref.name that is a whole reference; a bare tag: none."""
        full = annotations.get(oci.NAME_ANNOTATION)
        if full:
            return [self.name(full, f"{where} {oci.NAME_ANNOTATION}")]
        ref = annotations.get(oci.REF_ANNOTATION)
        if ref and ("/" in ref or ":" in ref):
            return [self.name(ref, f"{where} {oci.REF_ANNOTATION}")]
        return []

    def platform_manifest(
        self, desc: Descriptor, where: str, depth: int, *, lenient: bool
    ) -> Descriptor:
        """The image manifest a descriptor stands for on this platform (following indexes)."""
        if desc.media_type in oci.MANIFEST_TYPES:
            return desc
        if desc.media_type not in oci.INDEX_TYPES:
            if lenient:
                raise _NotHere
            raise self.fail(f"{where}: media type {desc.media_type!r} is not an image")
        if depth >= MAX_INDEX_DEPTH:
            raise self.fail(f"{where}: image indexes nested more than {MAX_INDEX_DEPTH} deep")
        data = self.json_blob(desc, "image index", lenient=lenient)
        children = oci.parse_index(data, f"image index {desc.digest}")
        os_, arch, variant = self.want
        matches = [
            d
            for d in children
            if (d.platform or {}).get("os") == os_
            and (d.platform or {}).get("architecture") == arch
            and d.media_type in (*oci.MANIFEST_TYPES, *oci.INDEX_TYPES)
            and _variant_fits(variant, (d.platform or {}).get("variant"), arch)
        ]
        exact = [d for d in matches if (d.platform or {}).get("variant") == variant]
        pick = (exact or matches or [None])[0]
        if pick is None:
            if lenient:
                raise _NotHere
            offered = sorted({_platform_text(d.platform) for d in children if d.platform})
            want = "/".join(p for p in self.want if p)
            has = f" (it has {', '.join(offered)})" if offered else ""
            raise self.fail(f"image index {desc.digest} has no manifest for {want}{has}")
        return self.platform_manifest(pick, where, depth + 1, lenient=lenient)

    def json_blob(self, desc: Descriptor, what: str, *, lenient: bool) -> bytes:
        """A manifest or index blob from blobs/, checked against its descriptor."""
        name = _blob_name(desc.digest)
        if not self.archive.has(name):
            if lenient:
                raise _NotHere
            raise self.fail(f"{what} {desc.digest} is not in the archive (no {name})")
        file, _ = self.archive.resolve(name, what)
        data = self.archive.read(file, f"{what} {name!r}", oci.MAX_JSON_BLOB)
        digest = _sha256(data)
        if digest != desc.digest:
            raise self.fail(f"blob {name!r} has digest {digest}, not the one its name says")
        if len(data) != desc.size:
            raise self.fail(f"{what} {desc.digest} is {len(data)} bytes, but {desc.size} declared")
        return data

    def oci_manifest(self, candidate: _Candidate) -> Descriptor:
        """Store an OCI/docker v2 manifest as it is, after every blob it names checked out."""
        desc, manifest = candidate.descriptor, candidate.manifest
        where = f"manifest {desc.digest}"
        if manifest.config.media_type not in (oci.OCI_CONFIG, oci.DOCKER_CONFIG):
            raise self.fail(
                f"{where}: config media type {manifest.config.media_type!r} "
                "is not a container image's"
            )
        config_data = self.json_blob(manifest.config, "config", lenient=False)
        config = oci.parse_config(config_data, f"config {manifest.config.digest}")
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest.layers):
            raise self.fail(
                f"{where} has {_count(len(manifest.layers), 'layer')}, "
                f"but its config has {_count(len(diff_ids), 'diff_id')}"
            )
        for i, (layer, diff_id) in enumerate(zip(manifest.layers, diff_ids, strict=True)):
            if layer.media_type not in oci.LAYER_TYPES:
                raise self.fail(f"{where} layer {i}: media type {layer.media_type!r} is no layer")
            name = _blob_name(layer.digest)
            if not self.archive.has(name):
                raise self.fail(f"{where} layer {i} {layer.digest} is not in the archive")
            file, _ = self.archive.resolve(name, f"{where} layer {i}")
            self.layer(file, f"layer {name!r}", diff_id, layer.digest, layer.size)
        dockerfile = manifest.annotations.get(oci.DOCKERFILE_ANNOTATION)
        if (
            dockerfile
            and oci.DIGEST_RE.match(dockerfile)
            and self.archive.has(_blob_name(dockerfile))
        ):
            file, _ = self.archive.resolve(_blob_name(dockerfile), f"{where} Dockerfile")
            with self.archive.open(file) as f:
                self.store.write_blob(
                    f,
                    expected_digest=dockerfile,
                    max_size=oci.MAX_JSON_BLOB,
                    where=f"{where} Dockerfile",
                )
        self.store.write_blob(config_data, expected_digest=manifest.config.digest)
        digest, size = self.store.write_blob(candidate.data, expected_digest=desc.digest)
        return Descriptor(desc.media_type, digest, size)

    # -------------------------------------------------------------- shared

    def name(self, text: str, where: str) -> str:
        """A tag from the archive, in the full form index.json keeps."""
        try:
            ref = reference.parse(text)
        except reference.ReferenceError as e:
            raise self.fail(f"{where}: {text!r} is not a valid image name ({e})") from None
        if ref.digest is not None:
            raise self.fail(f"{where}: {text!r} names a digest, not a tag")
        return str(ref.with_default_tag())

    def layer(
        self,
        name: str,
        what: str,
        diff_id: str,
        expected_digest: str | None,
        expected_size: int | None,
    ) -> LayerInfo:
        """Store one layer file, scan it and check it is the layer the config expects."""
        info = self.layers.get(name)
        if info is None:
            member_size = self.archive.size(name)
            if expected_size is not None and member_size != expected_size:
                raise self.fail(f"{what} is {member_size} bytes, but {expected_size} declared")
            where = f"{self.label}: {what}"
            if expected_digest is not None and self.store.has_blob(expected_digest):
                digest, size = expected_digest, self.store.blob_size(expected_digest)
                info = layers.layer_info(self.store, digest)
            else:
                digest, size, info = self._store_and_scan(name, where, expected_digest, member_size)
            self.layers[name] = info
            self.blobs[name] = (digest, size)
        elif expected_digest is not None and info.digest != expected_digest:
            # two digests reaching one file through a link: only one of them can be right
            raise self.fail(f"{what}: content has digest {info.digest}, not {expected_digest}")
        if info.diff_id != diff_id:
            raise self.fail(f"{what} has diff_id {info.diff_id}, but the config expects {diff_id}")
        return info

    def _store_and_scan(
        self, name: str, where: str, expected_digest: str | None, member_size: int
    ) -> tuple[str, int, LayerInfo]:
        """One read of the layer: each piece the scan reads is also written to the new blob."""
        with (
            self.store.blob_sink(
                expected_digest=expected_digest, expected_size=member_size, where=where
            ) as sink,
            self.archive.open(name) as f,
        ):
            tee = _Tee(f, sink.write)
            try:
                scanned = layers.scan_layer(tee, member_size, where, plain_hashed_by_caller=True)
            except FormatError as e:
                # Bytes that are not the ones the manifest names are the first thing to say
                # about a damaged layer (a flipped byte also breaks its gzip stream).
                tee.drain()
                sink.verify()
                if str(e).startswith(where):
                    raise
                raise FormatError(f"{where}: {e}") from None  # the bomb check's
            tee.drain()
            digest, size = sink.commit()
        info = LayerInfo(
            digest, scanned.diff_id or digest, scanned.size, scanned.compression, scanned.entries
        )
        layers.remember(self.store, info)
        return digest, size, info


class _Tee:
    """A reader that also hands every piece it returns to `sink` (the blob being written)."""

    def __init__(self, f: IO[bytes], sink: Callable[[bytes], None]) -> None:
        self.f = f
        self.sink = sink

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if data:
            self.sink(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _NotHere(Exception):
    """A lenient lookup found nothing usable (not an error in a docker archive's extra layout)."""


_LAYER_TYPES = {"tar": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}


def _blob_name(digest: str) -> str:
    return "blobs/" + oci.check_digest(digest).replace(":", "/", 1)


def _claimed(names: list[str], where: str, label: str, *, config: bool = False) -> str | None:
    """The digest a file's names claim (blobs/sha256/<hex>, or <hex>.json for a config)."""
    claims = set()
    for name in names:
        parts = name.split("/")
        hex_ = None
        if len(parts) == 3 and parts[:2] == ["blobs", "sha256"]:
            hex_ = parts[2]
        elif config and len(parts) == 1 and parts[0].endswith(".json"):
            hex_ = parts[0][: -len(".json")]
        if hex_ is not None and oci.DIGEST_RE.match("sha256:" + hex_):
            claims.add("sha256:" + hex_)
    if len(claims) > 1:
        raise FormatError(f"{label}: {where}: {' -> '.join(names)} name different digests")
    return claims.pop() if claims else None


def _variant_fits(want: str | None, have: Any, arch: str) -> bool:
    if not have or not want:
        return True
    if arch == "arm64" and {want, have} <= {"v8", ""}:
        return True
    return bool(have == want)


def _platform_text(platform: dict[str, Any] | None) -> str:
    p = platform or {}
    parts = [str(p.get("os", "?")), str(p.get("architecture", "?"))]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


def _parse_platform(text: str) -> tuple[str, str, str | None]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {text!r} is not os/arch[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _plain(d: Descriptor) -> Descriptor:
    return Descriptor(d.media_type, d.digest, d.size)


def _store_configs(store: Store) -> dict[str, Descriptor]:
    """Config digest -> a manifest of the store holding it (first in index order)."""
    out: dict[str, Descriptor] = {}
    seen: set[str] = set()
    for entry in store.read_index().entries:
        d = entry.descriptor
        if d.digest in seen or d.media_type not in oci.MANIFEST_TYPES:
            continue
        seen.add(d.digest)
        with contextlib.suppress(FormatError, StoreError, OSError):
            out.setdefault(store.read_manifest(d.digest).config.digest, _plain(d))
    return out


def _config_of(store: Store, manifest_digest: str, known: dict[str, Descriptor]) -> str | None:
    for config, d in known.items():
        if d.digest == manifest_digest:
            return config
    try:
        return store.read_manifest(manifest_digest).config.digest
    except (FormatError, StoreError, OSError):
        return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _printable(text: str) -> str:
    return text if text.isprintable() else repr(text)


# ---------------------------------------------------------------------------------- outer


_outer_compression = tarindex.outer_compression


def _outer_limit(compressed: int) -> int:
    return int(min(MAX_OUTER_BYTES, max(compressed, 1 << 20) * MAX_OUTER_RATIO))


@contextlib.contextmanager
def _open_archive(store: Store, path: Path, label: str) -> Iterator[_Archive]:
    """The archive, checked and readable at random; a compressed one is inflated to a temp file."""
    with path.open("rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        head = raw.read(6)
        raw.seek(0)
        kind = _outer_compression(head)
        if kind == "tar":
            with _tar_view(raw, size, label) as archive:
                yield archive
            return
        store.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store.tmp, prefix="archive-")
        try:
            with os.fdopen(fd, "w+b") as out:
                _inflate(raw, kind, out, _outer_limit(size), label)
                if not out.tell():
                    # zstd's reader ends quietly on a cut frame; a cut tar is caught later
                    raise FormatError(f"{label}: {kind} data inflates to nothing (truncated?)")
                with _tar_view(out, out.tell(), label) as archive:
                    yield archive
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def _tar_view(f: IO[bytes], size: int, label: str) -> Iterator[_Archive]:
    f.seek(0)
    try:
        tar = tarfile.open(fileobj=f, mode="r:")  # noqa: SIM115 - closed below
    except tarfile.TarError as e:
        raise FormatError(f"{label}: not a tar archive ({e})") from None
    with tar:
        yield _Archive(tar, f, size, label)


def _inflate(raw: IO[bytes], kind: str, out: IO[bytes], limit: int, label: str) -> None:
    errors: tuple[type[BaseException], ...] = (OSError, zlib.error, lzma.LZMAError)
    if kind == "zstd":
        import zstandard

        errors = (*errors, zstandard.ZstdError)
    with _decompressor(raw, kind) as stream:
        _copy_capped(stream, out, limit, label, kind, errors)
    out.flush()


def _decompressor(raw: IO[bytes], kind: str) -> Any:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    if kind == "xz":
        return lzma.LZMAFile(raw)
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


def _copy_capped(
    stream: Any,
    out: IO[bytes],
    limit: int,
    label: str,
    kind: str,
    errors: tuple[type[BaseException], ...],
) -> None:
    total = 0
    while True:
        try:
            chunk = stream.read(CHUNK)
        except EOFError:
            raise FormatError(f"{label}: truncated {kind} data") from None
        except errors as e:
            raise FormatError(f"{label}: corrupt {kind} data ({e})") from None
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise FormatError(
                f"{label}: {kind} archive inflates to more than {limit} bytes (decompression bomb?)"
            )
        out.write(chunk)


# ---------------------------------------------------------------------------------- save


def save_archive(
    store: Store, images: Sequence[tuple[Descriptor, Sequence[str]]], dest: Path
) -> None:
    """Write a tar both `docker load` (engine 20.10+) and OCI tools read; atomically at `dest`.

    Engine 20.10 reads gzip and plain layers but not zstd ones, so a zstd layer gets an
    uncompressed copy (blobs/sha256/<diff_id>) for manifest.json beside the original blob.
    """
    if not images:
        raise ValueError("no image to save")
    dest = Path(dest)
    plan = _SavePlan(store)
    for desc, names in images:
        plan.add(desc, names)
    with (
        atomic_file(dest) as out,
        # copybufsize: tarfile copies members 16 KiB at a time by default, slow from disk
        tarfile.open(
            fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=layers.TAR_BUFSIZE
        ) as tar,
    ):
        plan.write(tar)


@dataclass
class _Saved:
    """One image of a saved archive: what manifest.json and index.json say about it."""

    descriptor: Descriptor
    config: str
    layers: list[str]  # archive paths for manifest.json
    names: list[str] = field(default_factory=list)  # full normalized


class _SavePlan:
    """What goes into a saved archive, gathered (and checked) before a byte is written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.blobs: dict[str, tuple[str, str | None]] = {}  # digest -> (how, source layer)
        self.images: dict[str, _Saved] = {}  # manifest digest -> image, in the order given
        self.owner: dict[str, str] = {}  # full name -> manifest digest

    def add(self, desc: Descriptor, names: Sequence[str]) -> None:
        full = []
        for n in names:
            name = reference.normalize(n)
            if reference.parse(name).digest is not None:
                raise ValueError(f"{n}: a digest reference cannot be saved as a tag")
            if self.owner.setdefault(name, desc.digest) != desc.digest:
                raise ValueError(f"{reference.familiar(name)} is given for two different images")
            full.append(name)
        saved = self.images.get(desc.digest)
        if saved is None:
            saved = self.images[desc.digest] = self._image(desc)
        # one image given twice (two of its tags, or its id and a tag) is one entry, as docker's
        saved.names.extend(n for n in dict.fromkeys(full) if n not in saved.names)

    def _image(self, desc: Descriptor) -> _Saved:
        if desc.media_type not in oci.MANIFEST_TYPES:
            raise ValueError(
                f"{desc.digest}: only image manifests can be saved, not {desc.media_type}"
            )
        manifest = self.store.read_manifest(desc.digest)
        config = self.store.read_config(manifest.config.digest)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest.layers):
            raise StoreError(f"manifest {desc.digest}: layers and config diff_ids differ in number")
        self._blob(desc.digest)
        self._blob(manifest.config.digest)
        dockerfile = manifest.annotations.get(oci.DOCKERFILE_ANNOTATION)
        if dockerfile and oci.DIGEST_RE.match(dockerfile) and self.store.has_blob(dockerfile):
            self._blob(dockerfile)  # the original Dockerfile travels with its image
        paths = []
        for layer, diff_id in zip(manifest.layers, diff_ids, strict=True):
            self._blob(layer.digest)
            with self.store.open_blob(layer.digest) as f:
                compression = oci.layer_compression(f.read(4))
            if compression == "zstd":
                self.blobs.setdefault(diff_id, ("inflate", layer.digest))
                paths.append(_blob_name(diff_id))
            else:
                paths.append(_blob_name(layer.digest))
        plain = Descriptor(desc.media_type, desc.digest, desc.size)
        return _Saved(plain, _blob_name(manifest.config.digest), paths)

    def _blob(self, digest: str) -> None:
        # A stored blob wins over an inflated copy of the same bytes.
        self.blobs[digest] = ("blob", None)

    def write(self, tar: tarfile.TarFile) -> None:
        _add_bytes(tar, "oci-layout", oci.canonical_json({"imageLayoutVersion": "1.0.0"}))
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for digest, (how, source) in self.blobs.items():
            if how == "blob":
                self._add_blob(tar, digest)
            else:
                assert source is not None
                self._add_inflated(tar, digest, source)
        index: list[dict[str, Any]] = []
        manifest: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        for image in self.images.values():
            d = image.descriptor
            for name in image.names:
                ref = reference.parse(name)
                tag = ref.tag or reference.DEFAULT_TAG
                ann = {oci.NAME_ANNOTATION: name, oci.REF_ANNOTATION: tag}
                index.append(Descriptor(d.media_type, d.digest, d.size, ann).to_json())
                if image.layers:
                    top = image.layers[-1].rsplit("/", 1)[1]
                    repositories.setdefault(ref.familiar_name, {})[tag] = top
            if not image.names:
                index.append(d.to_json())
            manifest.append(
                {
                    "Config": image.config,
                    "RepoTags": [reference.familiar(n) for n in image.names] or None,
                    "Layers": image.layers,
                }
            )
        oci_index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index}
        _add_bytes(tar, "index.json", oci.canonical_json(oci_index))
        _add_bytes(tar, "manifest.json", oci.canonical_json(manifest))
        if repositories:
            _add_bytes(tar, "repositories", oci.canonical_json(repositories))

    def _add_blob(self, tar: tarfile.TarFile, digest: str) -> None:
        size = self.store.blob_size(digest)
        with self.store.open_blob(digest) as f:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                # read whole: a larger readahead window (blobs from pulls are not cached)
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            reader = _Hashing(f)
            tar.addfile(_info(_blob_name(digest), size), reader)  # type: ignore[arg-type]
        if reader.digest() != digest:
            raise StoreError(f"blob {digest} is damaged: its content has digest {reader.digest()}")

    def _add_inflated(self, tar: tarfile.TarFile, diff_id: str, layer: str) -> None:
        # The tar header needs the size first, so the layer is inflated to a temp file.
        with tempfile.TemporaryFile(dir=self.store.tmp) as tmp:
            h = hashlib.sha256()
            with layers.open_layer(self.store, layer) as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    tmp.write(chunk)
            if "sha256:" + h.hexdigest() != diff_id:
                raise StoreError(f"layer {layer} does not inflate to its diff_id {diff_id}")
            size = tmp.tell()
            tmp.seek(0)
            tar.addfile(_info(_blob_name(diff_id), size), tmp)


class _Hashing:
    """A read-only stream that hashes what passes through."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        return data

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _info(name: str, size: int, mode: int = 0o644) -> tarfile.TarInfo:
    # Fixed owner and time: the same images always give the same archive bytes.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _info(name, 0, 0o755)
    info.type = tarfile.DIRTYPE
    tar.addfile(info)
