"""The build cache: each step's result keyed by what it depends on, in the store's side folder.

A step's key is a digest of its parent image id, its instruction as the history records it (for
COPY/ADD that includes the content digest of the sources), the build args it sees and whatever
else changes its result. The record holds the step's resulting image config and layer
descriptors; the layers are ordinary blobs. A record whose blobs were swept (image prune sweeps
blobs no image names) is a miss. Everything here may be deleted at any time: `prune` does.

Context digests are remembered by stat (inode, size, mtime, ctime, mode, owner), as git's index
does, so an unchanged rebuild reads no file content; an entry modified within the last two
seconds is not remembered (its mtime could still change without the stat changing).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from imgtui.build.dockerignore import ContextEntry, entry_digest
from imgtui.fsutil import atomic_file
from imgtui.store import oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor

__all__ = ["BuildCache", "DigestMemo", "step_key"]

VERSION = 1
_RACY_SECONDS = 2.0


def step_key(*parts: Any) -> str:
    """The cache key of a step: a digest of its inputs (JSON-encoded)."""
    data = json.dumps([VERSION, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


class BuildCache:
    """Step records in `STORE/.imgtui/build-cache/steps/<key>.json`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.side / "build-cache"
        self.steps = self.root / "steps"

    def get(self, key: str) -> tuple[dict[str, Any], list[Descriptor]] | None:
        """The cached (config, layers) of a step, or None (absent, damaged, or blobs gone)."""
        path = self.steps / f"{key}.json"
        try:
            record = json.loads(path.read_bytes())
            config = record["config"]
            layers = [Descriptor.from_json(d, "build cache") for d in record["layers"]]
        except (OSError, ValueError, KeyError, TypeError, oci.FormatError):
            return None
        if not all(self.store.has_blob(d.digest) for d in layers):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last used: what a future size-bounded prune would keep
        return config, layers

    def put(self, key: str, config: dict[str, Any], layers: list[Descriptor]) -> None:
        self.steps.mkdir(parents=True, exist_ok=True)
        record = {"config": config, "layers": [d.to_json() for d in layers]}
        with atomic_file(self.steps / f"{key}.json", tmp_dir=self.store.tmp) as out:
            out.write(json.dumps(record, separators=(",", ":")).encode())

    def records(self) -> list[Path]:
        try:
            return sorted(self.steps.glob("*.json"))
        except OSError:
            return []

    def layer_digests(self) -> set[str]:
        """Every layer blob some record names."""
        out: set[str] = set()
        for path in self.records():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                for d in json.loads(path.read_bytes())["layers"]:
                    out.add(d["digest"])
        return out

    def usage(self, referenced: set[str]) -> tuple[int, int]:
        """(records, bytes): record files plus layer blobs no image references."""
        size = 0
        records = self.records()
        for path in records:
            with contextlib.suppress(OSError):
                size += path.stat().st_size
        for digest in self.layer_digests() - referenced:
            with contextlib.suppress(OSError, oci.FormatError):
                size += self.store.blob_size(digest)
        size += DigestMemo.size_on_disk(self.root)
        return len(records), size

    def drop(self) -> int:
        """Delete every record and the digest memo; the bytes of those files."""
        freed = 0
        for path in [*self.records(), *self.root.glob("digests-*.json")]:
            with contextlib.suppress(OSError):
                freed += path.stat().st_size
                path.unlink()
        return freed


class DigestMemo:
    """Content digests of context entries, remembered by stat across builds of one context."""

    def __init__(self, cache_root: Path, context: Path) -> None:
        name = hashlib.sha256(os.fsencode(context.resolve())).hexdigest()[:16]
        self.path = cache_root / f"digests-{name}.json"
        self.context = context
        self.changed = False
        try:
            self.known: dict[str, list[Any]] = json.loads(self.path.read_bytes())
            if not isinstance(self.known, dict):
                self.known = {}
        except (OSError, ValueError):
            self.known = {}
        self.now = time.time()

    def digest(self, base: Path, entry: ContextEntry) -> str:
        """entry_digest, from memory when the entry's stat did not change."""
        full = os.path.join(os.fspath(base), entry.path)
        st = entry.stat
        facts = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode]
        facts += [st.st_uid, st.st_gid]
        key = f"{full}\0{entry.path}"
        known = self.known.get(key)
        if known is not None and known[:-1] == facts:
            return str(known[-1])
        value = entry_digest(base, entry)
        if self.now - max(st.st_mtime, st.st_ctime) > _RACY_SECONDS:
            self.known[key] = [*facts, value]
            self.changed = True
        return value

    def save(self, tmp_dir: Path) -> None:
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError), atomic_file(self.path, tmp_dir=tmp_dir) as out:
            out.write(json.dumps(self.known, separators=(",", ":")).encode())

    @staticmethod
    def size_on_disk(cache_root: Path) -> int:
        total = 0
        for path in cache_root.glob("digests-*.json"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total
