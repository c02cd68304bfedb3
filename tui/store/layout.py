"""The built-in store on disk: an OCI image layout plus a side folder imgtui may drop at will.

    STORE/oci-layout            {"imageLayoutVersion": "1.0.0"}
    STORE/index.json            one entry per name (containerd's annotations), or a nameless
                                entry for a dangling image
    STORE/blobs/sha256/<hex>    content-addressed, immutable
    STORE/.imgtui/              lock, tmp (same filesystem, for atomic renames), cache, containers

Crash safety rests on two rules: a blob becomes visible only by rename after it was fsynced and
its digest checked, and index.json is only ever replaced by rename, under an exclusive lock, by a
process that read it under that same lock. A process killed at any instant therefore leaves
either the old or the new index, and at worst unreferenced blobs or temp files that fsck lists
and prune sweeps.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from imgtui import reference
from imgtui.fsutil import atomic_file, fsync_dir
from imgtui.store import oci
from imgtui.store.blobfile import BlobFile
from imgtui.store.oci import Descriptor, FormatError

SIDE = ".imgtui"
CHUNK = 1 << 20


class StoreError(Exception):
    """Something about the store itself is wrong (not a bad input); str() is one line."""


class DigestMismatch(FormatError):
    """A blob's bytes do not hash to the digest that named them."""


@dataclass
class IndexEntry:
    """One manifest descriptor of index.json; its annotations carry the name, if any."""

    descriptor: Descriptor

    @property
    def name(self) -> str | None:
        """The full normalized reference ("docker.io/library/busybox:latest"), if named."""
        ann = self.descriptor.annotations
        return ann.get(oci.NAME_ANNOTATION) or None

    @property
    def digest(self) -> str:
        return self.descriptor.digest


@dataclass
class Index:
    """index.json in memory; mutated only inside Store.locked()."""

    entries: list[IndexEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # fields we do not interpret, kept
    changed: bool = False

    def named(self) -> dict[str, IndexEntry]:
        return {e.name: e for e in self.entries if e.name}

    def get(self, name: str) -> IndexEntry | None:
        return self.named().get(name)

    def manifests(self) -> set[str]:
        return {e.digest for e in self.entries}

    def names_of(self, manifest_digest: str) -> list[str]:
        return [e.name for e in self.entries if e.digest == manifest_digest and e.name]

    def set_name(self, name: str, manifest: Descriptor) -> str | None:
        """Point `name` at `manifest`; returns the manifest it left if that one is now dangling."""
        tag = reference.split_repo_tag(name)[1] or ""
        annotations = {oci.NAME_ANNOTATION: name}
        if tag:
            annotations[oci.REF_ANNOTATION] = tag
        entry = IndexEntry(
            Descriptor(manifest.media_type, manifest.digest, manifest.size, annotations)
        )
        previous = self.get(name)
        left = None
        if previous is not None:
            if previous.digest == manifest.digest:
                return None
            # Descriptor equality ignores annotations: remove this very entry, not a twin
            self.entries = [e for e in self.entries if e is not previous]
            if not self.names_of(previous.digest):
                # docker keeps an image whose last tag moved away, as <none>:<none>
                self.entries.append(IndexEntry(_nameless(previous.descriptor)))
                left = previous.digest
        # a dangling entry of this manifest gives way to the name
        self.entries = [e for e in self.entries if not (e.digest == manifest.digest and not e.name)]
        self.entries.append(entry)
        self.changed = True
        return left

    def add_dangling(self, manifest: Descriptor) -> None:
        if manifest.digest not in self.manifests():
            self.entries.append(IndexEntry(_nameless(manifest)))
            self.changed = True

    def remove_name(self, name: str) -> IndexEntry:
        entry = self.get(name)
        if entry is None:
            raise KeyError(name)
        self.entries = [e for e in self.entries if e is not entry]
        self.changed = True
        return entry

    def remove_manifest(self, manifest_digest: str) -> None:
        before = len(self.entries)
        self.entries = [e for e in self.entries if e.digest != manifest_digest]
        self.changed = self.changed or len(self.entries) != before

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [e.descriptor.to_json() for e in self.entries],
        }


def _nameless(d: Descriptor) -> Descriptor:
    return Descriptor(d.media_type, d.digest, d.size, {})


class Store:
    """One OCI layout folder. Safe for concurrent processes; blocking; no textual, no SDK."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.side = self.root / SIDE
        self.tmp = self.side / "tmp"
        self.cache = self.side / "cache"
        self._lock_path = self.side / "lock"
        self._ingest_lock_path = self.side / "ingest.lock"

    # ------------------------------------------------------------------ create / open

    @classmethod
    def open(cls, root: Path | str, *, create: bool = True) -> Store:
        store = cls(Path(root).expanduser())
        layout = store.root / "oci-layout"
        if not layout.exists():
            if not create:
                raise StoreError(f"{store.root} is not an imgtui store (no oci-layout file)")
            if store.root.exists() and not store.root.is_dir():
                raise StoreError(f"{store.root} exists and is not a directory")
            store._create()
        else:
            try:
                version = json.loads(layout.read_text()).get("imageLayoutVersion")
            except (OSError, ValueError, AttributeError):
                version = None
            if version != oci.OCI_LAYOUT_VERSION:
                raise StoreError(f"{layout}: not an OCI image layout version 1.0.0")
        for d in (store.blobs, store.tmp, store.cache):
            d.mkdir(parents=True, exist_ok=True)
        return store

    def _create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for d in (self.blobs, self.tmp, self.cache):
            d.mkdir(parents=True, exist_ok=True)
        with self.locked() as index:
            if not (self.root / "index.json").exists():
                index.changed = True
            layout = self.root / "oci-layout"
            if not layout.exists():
                self._atomic_write(
                    layout, oci.canonical_json({"imageLayoutVersion": oci.OCI_LAYOUT_VERSION})
                )

    # ------------------------------------------------------------------ blobs

    def blob_path(self, digest: str) -> Path:
        oci.check_digest(digest)
        return self.blobs / digest.split(":", 1)[1]

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def blob_size(self, digest: str) -> int:
        return self.blob_path(digest).stat().st_size

    def open_blob(self, digest: str) -> IO[bytes]:
        try:
            return self.blob_path(digest).open("rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store (run imgtui fsck)") from None

    def read_blob(self, digest: str, limit: int = oci.MAX_JSON_BLOB) -> bytes:
        with self.open_blob(digest) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise FormatError(f"blob {digest} is larger than {limit} bytes")
        return data

    def write_blob(
        self,
        source: bytes | IO[bytes] | Iterable[bytes],
        *,
        expected_digest: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
        where: str = "",
    ) -> tuple[str, int]:
        """Store bytes as a blob: temp file, fsync, digest check, rename. Returns (digest, size).

        An existing blob with the same digest is kept as it is (it was verified when written).
        """
        if expected_digest is not None:
            oci.check_digest(expected_digest, where)
            if self.has_blob(expected_digest):
                return expected_digest, self.blob_size(expected_digest)
        known = len(source) if isinstance(source, (bytes, bytearray, memoryview)) else None
        # the digest was checked above: the sink is made directly, not through blob_sink
        with BlobSink(self, expected_digest, expected_size, max_size, where, known) as sink:
            for chunk in _chunks(source):
                sink.write(chunk)
            return sink.commit()

    def blob_sink(
        self,
        *,
        expected_digest: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
        where: str = "",
        size_hint: int | None = None,
    ) -> BlobSink:
        """A blob written piece by piece (for callers that read the bytes for something else
        too, as load scans a layer while storing it); see BlobSink."""
        if expected_digest is not None:
            oci.check_digest(expected_digest, where)
        return BlobSink(self, expected_digest, expected_size, max_size, where, size_hint)

    def write_json_blob(self, obj: Any) -> tuple[str, int]:
        return self.write_blob(oci.canonical_json(obj))

    def read_manifest(self, digest: str) -> oci.Manifest:
        return oci.parse_manifest(self.read_blob(digest), f"manifest {digest}")

    def read_config(self, digest: str) -> dict[str, Any]:
        return oci.parse_config(self.read_blob(digest), f"config {digest}")

    # ------------------------------------------------------------------ index

    def read_index(self) -> Index:
        """A snapshot of index.json: consistent without the lock, as it only changes by rename."""
        path = self.root / "index.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Index()
        try:
            obj = json.loads(data)
        except ValueError as e:
            raise StoreError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("manifests", []), list):
            raise StoreError(f"{path}: not an OCI image index")
        entries = []
        for i, d in enumerate(obj.get("manifests") or ()):
            try:
                entries.append(IndexEntry(Descriptor.from_json(d, f"index.json manifest {i}")))
            except FormatError as e:
                raise StoreError(str(e)) from None
        extra = {
            k: v for k, v in obj.items() if k not in ("schemaVersion", "mediaType", "manifests")
        }
        return Index(entries=entries, extra=extra)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Index]:
        """Exclusive access: read index.json, let the caller change it, write it back atomically."""
        self.side.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                index = self.read_index()
                yield index
                if index.changed:
                    self._atomic_write(
                        self.root / "index.json", json.dumps(index.to_json(), indent=2).encode()
                    )
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def ingesting(self) -> Iterator[None]:
        """Shared lock from a load's first blob write until locked() has named them.

        Blobs written under it are not yet referenced; a sweep leaves every unreferenced blob
        alone while any ingest holds it. Blobs reused by digest (write_blob's early return) are
        covered too, which a sweep by blob age could not promise.
        """
        self.side.mkdir(parents=True, exist_ok=True)
        with open(self._ingest_lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def no_ingest(self) -> Iterator[bool]:
        """True while no ingest is in flight (held exclusively until exit); never blocks.

        Non-blocking because the sweeper already holds the index lock, which an ingest may be
        waiting for while it holds its shared lock.
        """
        self.side.mkdir(parents=True, exist_ok=True)
        with open(self._ingest_lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                idle = True
            except BlockingIOError:
                idle = False
            try:
                yield idle
            finally:
                if idle:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _atomic_write(self, path: Path, data: bytes) -> None:
        with atomic_file(path, tmp_dir=self.tmp) as out:
            out.write(data)

    # ------------------------------------------------------------------ walking

    def all_blobs(self) -> Iterator[str]:
        for p in self.blobs.iterdir():
            yield "sha256:" + p.name

    def referenced(self, index: Index) -> tuple[set[str], list[str]]:
        """Every blob reachable from the index (mark phase), and the problems met on the way."""
        marked: set[str] = set()
        problems: list[str] = []
        stack = [e.descriptor for e in index.entries]
        while stack:
            desc = stack.pop()
            if desc.digest in marked:
                continue
            marked.add(desc.digest)
            if desc.media_type in oci.INDEX_TYPES:
                try:
                    children = oci.parse_index(self.read_blob(desc.digest), f"index {desc.digest}")
                except (FormatError, StoreError, OSError) as e:
                    problems.append(str(e))
                    continue
                stack.extend(children)
            elif desc.media_type in oci.MANIFEST_TYPES:
                try:
                    m = self.read_manifest(desc.digest)
                except (FormatError, StoreError, OSError) as e:
                    problems.append(str(e))
                    continue
                stack.append(m.config)
                stack.extend(m.layers)
                dockerfile = m.annotations.get(oci.DOCKERFILE_ANNOTATION)
                if dockerfile and oci.DIGEST_RE.match(dockerfile):
                    marked.add(dockerfile)
        return marked, problems


class BlobSink:
    """Bytes on their way to becoming a blob: counted against what was declared, hashed and
    written to a temp file as they come; `commit()` fsyncs, checks and names the blob. Leaving
    the `with` block without a commit removes the temp file: nothing half-written remains.
    """

    def __init__(
        self,
        store: Store,
        expected_digest: str | None,
        expected_size: int | None,
        max_size: int | None,
        where: str,
        size_hint: int | None,
    ) -> None:
        self.store = store
        self.expected_digest = expected_digest
        self.expected_size = expected_size
        self.max_size = max_size
        self.label = f"{where}: " if where else ""
        self.hash = hashlib.sha256()
        self.size = 0
        self.fd, self.tmp = tempfile.mkstemp(dir=store.tmp, prefix="blob-")
        try:
            # mkstemp makes 0600 files: readers such as skopeo or umoci run as other users
            os.fchmod(self.fd, 0o644)
            self.out: BlobFile | None = BlobFile(self.fd, self.tmp, 0, size_hint)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> BlobSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_size is not None and self.size > self.max_size:
            raise FormatError(f"{self.label}more than {self.max_size} bytes")
        if self.expected_size is not None and self.size > self.expected_size:
            raise FormatError(f"{self.label}longer than the {self.expected_size} bytes declared")
        self.hash.update(chunk)
        assert self.out is not None, "write after commit"
        self.out.write(chunk)

    def commit(self) -> tuple[str, int]:
        """Make the bytes a blob: fsync, check size and digest, rename. Returns (digest, size)."""
        assert self.out is not None, "committed twice"
        out, self.out = self.out, None
        try:
            out.flush()
        finally:
            out.close()
        os.fsync(self.fd)
        digest, size = self.verify()
        final = self.store.blob_path(digest)
        os.replace(self.tmp, final)
        self.tmp = ""
        fsync_dir(final.parent)
        return digest, size

    def verify(self) -> tuple[str, int]:
        """The bytes so far against the declared size and digest; (digest, size) if they fit."""
        label, size = self.label, self.size
        digest = "sha256:" + self.hash.hexdigest()
        if self.expected_size is not None and size != self.expected_size:
            raise FormatError(f"{label}{size} bytes, but {self.expected_size} were declared")
        if self.expected_digest is not None and digest != self.expected_digest:
            raise DigestMismatch(f"{label}content has digest {digest}, not {self.expected_digest}")
        return digest, size

    def close(self) -> None:
        """Release the temp file; unless committed, remove it."""
        if self.out is not None:
            with contextlib.suppress(OSError):
                self.out.close()
            self.out = None
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self.tmp:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = ""


def _chunks(source: bytes | IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        for i in range(0, len(data), CHUNK):
            yield data[i : i + CHUNK]
        return
    read = getattr(source, "read", None)
    if read is not None:
        while chunk := read(CHUNK):
            yield chunk
        return
    yield from source  # type: ignore[misc]
