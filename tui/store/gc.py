"""Garbage collection and consistency checks for the built-in store: mark-and-sweep and fsck.

The mark phase is `Store.referenced`: every blob reachable from index.json (manifests, configs,
layers, image index children, the Dockerfile blob a manifest names). The sweep runs under the
index lock, so no name can appear or move while it decides.

Loaders write blobs *before* they take the index lock to name them, so a blob may be
unreferenced only because its image is still arriving. They hold `Store.ingesting()` (a shared
lock) for that whole time, and a sweep removes unreferenced blobs only when it can take that lock
exclusively; otherwise it keeps them all (`SweepReport.deferred`) and the next prune gets them.
Temp files are different: deleting one can only make a concurrent write fail, never leave an
index that names a missing blob, so stale ones go even while a load runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from imgtui.fsutil import fsync_dir
from imgtui.store import oci
from imgtui.store.layout import CHUNK, Index, Store, StoreError
from imgtui.store.oci import Descriptor, FormatError

# A temp file untouched this long has no live writer worth waiting for (a load in flight keeps
# writing to its temp files); younger ones are kept unless no load is in flight.
TEMP_GRACE = 300.0


@dataclass(frozen=True, slots=True)
class SweepReport:
    removed: tuple[str, ...]  # blob digests
    bytes_freed: int
    temp_files_removed: int
    # Unreferenced blobs kept: a load was in flight (they may be its new blobs), or the mark
    # phase met problems (a blob of a broken image would look unreferenced).
    deferred: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # what the mark phase met; `imgtui fsck` tells more


@dataclass(frozen=True, slots=True)
class FsckReport:
    missing: tuple[str, ...]  # referenced digests with no blob
    corrupt: tuple[str, ...]  # blobs whose bytes do not hash to their name
    orphans: tuple[str, ...]  # blobs nothing references
    temp_files: tuple[str, ...]  # paths relative to the store root
    problems: tuple[str, ...]  # one line each: unparsable manifests, count mismatches, …
    repaired: SweepReport | None = None  # what repair=True removed

    @property
    def ok(self) -> bool:
        """Orphans and temp files are litter, not damage: no image is affected by them."""
        return not (self.missing or self.corrupt or self.problems)


def sweep(store: Store, index: Index) -> SweepReport:
    """Remove unreferenced blobs and stale temp files; call only inside `store.locked()`.

    Changes the caller made to `index` in this lock hold are written to index.json first: were
    blobs deleted while the old index.json (which still names them) is what a crash leaves, the
    store would be broken. So a sweep is a commit point of the locked() block.

    When the mark phase meets a problem (a missing or unreadable manifest) no blob is removed:
    the blobs a broken manifest names would look unreferenced, and a sweep must never make a
    damaged store worse. The report carries the problems; the caller's own change still stands.
    """
    marked, problems = mark(store, index)
    if index.changed:
        _write_index(store, index)
    return _sweep_marked(store, marked, problems)


def _write_index(store: Store, index: Index) -> None:
    """index.json as locked() writes it on exit; it writes again only if changed after this."""
    store._atomic_write(store.root / "index.json", json.dumps(index.to_json(), indent=2).encode())
    index.changed = False


def mark(store: Store, index: Index) -> tuple[set[str], list[str]]:
    """The mark phase, plus index entries whose media type hides what they reference."""
    marked, problems = store.referenced(index)
    return marked, problems + _opaque_entries(index)


def _opaque_entries(index: Index) -> list[str]:
    """Entries the mark phase cannot look into, so the blobs behind them would be swept."""
    known = (*oci.MANIFEST_TYPES, *oci.INDEX_TYPES)
    return [
        f"index.json entry {e.digest} has media type {e.descriptor.media_type!r}:"
        " prune cannot tell what it references"
        for e in index.entries
        if e.descriptor.media_type not in known
    ]


def _sweep_marked(store: Store, marked: set[str], problems: list[str]) -> SweepReport:
    with store.no_ingest() as idle:
        temps = _remove_temp_files(store, everything=idle)
        orphans = sorted(d for d in _blob_names(store) if d not in marked)
        if problems or not idle:
            return SweepReport((), 0, temps, deferred=tuple(orphans), problems=tuple(problems))
        removed: list[str] = []
        freed = 0
        for digest in orphans:
            path = store.blobs / digest.split(":", 1)[1]
            try:
                size = path.lstat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(digest)
            freed += size
        if removed:
            fsync_dir(store.blobs)
        _drop_layer_cache(store)
    return SweepReport(tuple(removed), freed, temps)


def _blob_names(store: Store) -> list[str]:
    """Every file in blobs/sha256 as "sha256:<name>", including stray names that are no digest."""
    try:
        with os.scandir(store.blobs) as it:
            return ["sha256:" + e.name for e in it if not e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _temp_files(store: Store) -> list[Path]:
    try:
        with os.scandir(store.tmp) as it:
            return [Path(e.path) for e in it if not e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _remove_temp_files(store: Store, *, everything: bool) -> int:
    cutoff = time.time() - TEMP_GRACE
    count = 0
    for path in _temp_files(store):
        try:
            if everything or path.lstat().st_mtime < cutoff:
                path.unlink()
                count += 1
        except FileNotFoundError:
            continue
    return count


def _drop_layer_cache(store: Store) -> None:
    """Cached layer figures whose blob is gone, and cache temp files a killed writer left."""
    folder = store.cache / "layers"
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    cutoff = time.time() - TEMP_GRACE
    for e in entries:
        with contextlib.suppress(OSError):
            if e.name.startswith(".tmp-"):
                if e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.path)
            elif e.name.endswith(".json") and not (store.blobs / e.name[:-5]).exists():
                os.unlink(e.path)


# ---------------------------------------------------------------------------------------- fsck


class _Checker:
    """One pass over the store: hashes each blob once, remembers what it found."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.missing: list[str] = []
        self.corrupt: list[str] = []
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.diff_ids: dict[str, int | None] = {}  # config digest -> its diff_ids count

    def blob(self, digest: str, size: int | None, where: str, keep: bool) -> bytes | None:
        """Hash one blob; its bytes when keep and it is sound, else None (and why, recorded)."""
        self.seen.add(digest)
        path = self.store.blobs / digest.split(":", 1)[1]
        h = hashlib.sha256()
        length = 0
        parts: list[bytes] = []
        try:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    length += len(chunk)
                    if keep and length <= oci.MAX_JSON_BLOB:
                        parts.append(chunk)
        except FileNotFoundError:
            self.missing.append(digest)
            return None
        except OSError as e:
            self.problems.append(f"{where} {digest}: cannot be read ({e.strerror})")
            return None
        if "sha256:" + h.hexdigest() != digest:
            self.corrupt.append(digest)
            return None
        if size is not None and size != length:
            self.problems.append(f"{where} {digest}: {length} bytes, but {size} are declared")
        return b"".join(parts) if keep else None

    def descriptor(self, d: Descriptor, where: str) -> None:
        """Check a blob and everything it references."""
        if d.digest in self.seen:
            return
        if d.media_type in oci.INDEX_TYPES:
            data = self.blob(d.digest, d.size, where, keep=True)
            if data is None:
                return
            try:
                children = oci.parse_index(data, f"{where} {d.digest}")
            except FormatError as e:
                self.problems.append(str(e))
                return
            for i, child in enumerate(children):
                self.descriptor(child, f"{where} {d.digest[:19]} manifest {i}")
        elif d.media_type in oci.MANIFEST_TYPES:
            self.manifest(d, where)
        else:
            self.blob(d.digest, d.size, where, keep=False)

    def manifest(self, d: Descriptor, where: str) -> None:
        data = self.blob(d.digest, d.size, where, keep=True)
        if data is None:
            return
        try:
            m = oci.parse_manifest(data, f"manifest {d.digest}")
        except FormatError as e:
            self.problems.append(str(e))
            return
        short = d.digest[:19]
        dockerfile = m.annotations.get(oci.DOCKERFILE_ANNOTATION)
        if (
            dockerfile
            and oci.DIGEST_RE.match(dockerfile)
            and dockerfile not in self.seen
            and self.store.has_blob(dockerfile)  # optional: tools that copy images may drop it
        ):
            self.blob(dockerfile, None, f"Dockerfile of manifest {short}", keep=False)
        for i, layer in enumerate(m.layers):
            if layer.digest not in self.seen:
                self.blob(layer.digest, layer.size, f"layer {i} of manifest {short}", keep=False)
        if m.config.digest not in self.seen:
            self.diff_ids[m.config.digest] = self.config(m.config, f"config of manifest {short}")
        count = self.diff_ids.get(m.config.digest)
        if count is not None and count != len(m.layers):
            self.problems.append(
                f"manifest {d.digest}: {len(m.layers)} layers, but its config"
                f" {m.config.digest} lists {count} diff_ids"
            )

    def config(self, d: Descriptor, where: str) -> int | None:
        """How many diff_ids a sound config lists; None if it is missing, corrupt or unparsable."""
        data = self.blob(d.digest, d.size, where, keep=True)
        if data is None:
            return None
        try:
            config = oci.parse_config(data, f"config {d.digest}")
        except FormatError as e:
            self.problems.append(str(e))
            return None
        return len(config["rootfs"]["diff_ids"])


def fsck(store: Store, *, repair: bool = False) -> FsckReport:
    """Check every referenced blob (present, digest right, manifests and configs sound).

    Reports orphans and temp files too. With repair=True, orphans and temp files are then swept
    under the lock by the sweep rules (never a referenced blob, never index.json): the report
    still lists what was found, `repaired` says what went (a load in flight defers orphans), and
    a corrupt orphan the repair removed is no longer counted as corrupt.
    """
    check = _Checker(store)
    layout = store.root / "oci-layout"
    try:
        version = oci.parse_json(layout.read_bytes(), "oci-layout").get("imageLayoutVersion")
        if version != oci.OCI_LAYOUT_VERSION:
            check.problems.append(f"oci-layout: imageLayoutVersion {version!r}, expected 1.0.0")
    except (OSError, FormatError) as e:
        check.problems.append(f"oci-layout: {e}")
    try:
        index: Index | None = store.read_index()
    except StoreError as e:
        check.problems.append(str(e))
        index = None
    if index is not None:
        for i, e in enumerate(index.entries):
            check.descriptor(e.descriptor, f"index.json manifest {i}")
        check.problems.extend(_opaque_entries(index))
    try:
        with os.scandir(store.blobs) as it:
            strays = [e.name for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        strays = []
        check.problems.append(f"{store.blobs.relative_to(store.root)}: missing")
    check.problems.extend(f"blobs/sha256/{name}: a directory among blobs" for name in strays)

    orphans: list[str] = []
    if index is not None:  # without the index every blob would look like an orphan
        for digest in sorted(_blob_names(store)):
            if digest in check.seen:
                continue
            orphans.append(digest)
            if oci.DIGEST_RE.match(digest):
                check.blob(digest, None, "orphan", keep=False)
    temp_files = sorted(str(p.relative_to(store.root)) for p in _temp_files(store))

    repaired = None
    if repair and index is not None:
        with store.locked() as current:
            repaired = sweep(store, current)
        gone = set(repaired.removed)
        check.corrupt = [d for d in check.corrupt if d not in gone]

    return FsckReport(
        missing=tuple(sorted(set(check.missing))),
        corrupt=tuple(sorted(set(check.corrupt))),
        orphans=tuple(orphans),
        temp_files=tuple(temp_files),
        problems=tuple(check.problems),
        repaired=repaired,
    )
