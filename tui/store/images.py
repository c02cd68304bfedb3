"""The store's images as the UI sees them: index entries grouped by image id (config digest).

Manifests and configs are immutable blobs, so what is derived from them (id, created, labels,
layer sizes) is cached in the side folder by manifest digest; listing 10,000 tags then reads one
JSON file instead of 20,000 blobs. The cache is rebuilt on demand if it is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from imgtui import fmt
from imgtui.store import layers as layer_mod
from imgtui.store.layout import Index, Store
from imgtui.store.oci import Descriptor, FormatError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CACHE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What one manifest says, flattened: enough to list and size an image without its blobs."""

    manifest: str
    config: str  # the image id
    created: str
    labels: dict[str, str] = field(hash=False)
    layers: tuple[str, ...]  # layer blob digests, bottom first
    layer_sizes: tuple[int, ...]  # docker-like content sizes, same order
    diff_ids: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(self.layer_sizes)

    def sized_layers(self) -> Iterator[tuple[str, int]]:
        return zip(self.layers, self.layer_sizes, strict=True)


@dataclass
class StoredImage:
    """One image (config digest) and every index entry that names or holds it."""

    facts: ImageFacts
    manifests: list[Descriptor]
    names: list[str]  # full normalized refs

    @property
    def id(self) -> str:
        return self.facts.config

    @property
    def dangling(self) -> bool:
        return not self.names


def parse_created(text: str | None) -> datetime:
    """An image config's `created`; missing or unreadable means the epoch."""
    return fmt.parse_rfc3339(text) or EPOCH


class FactsCache:
    """Manifest digest -> ImageFacts, persisted in the side folder."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.cache / "images.json"
        self._facts: dict[str, ImageFacts] = {}
        self._dirty = False
        self._loaded = False

    def _load(self) -> None:
        self._loaded = True
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(raw, dict) or raw.get("version") != CACHE_VERSION:
            return
        for digest, f in (raw.get("images") or {}).items():
            with contextlib.suppress(TypeError, KeyError):
                self._facts[digest] = ImageFacts(
                    manifest=digest,
                    config=f["config"],
                    created=f["created"],
                    labels=dict(f["labels"]),
                    layers=tuple(f["layers"]),
                    layer_sizes=tuple(f["layer_sizes"]),
                    diff_ids=tuple(f["diff_ids"]),
                )

    def get(self, manifest: str) -> ImageFacts:
        if not self._loaded:
            self._load()
        facts = self._facts.get(manifest)
        if facts is None:
            facts = self._compute(manifest)
            self._facts[manifest] = facts
            self._dirty = True
        return facts

    def _compute(self, digest: str) -> ImageFacts:
        m = self.store.read_manifest(digest)
        config = self.store.read_config(m.config.digest)
        inner = config.get("config") or {}
        labels = inner.get("Labels") if isinstance(inner, dict) else None
        sizes = tuple(layer_mod.layer_info(self.store, layer.digest).size for layer in m.layers)
        diff_ids = tuple(config["rootfs"]["diff_ids"])
        if len(diff_ids) != len(m.layers):
            raise FormatError(
                f"manifest {digest}: {len(m.layers)} layers but {len(diff_ids)} diff_ids in config"
            )
        return ImageFacts(
            manifest=digest,
            config=m.config.digest,
            created=str(config.get("created") or ""),
            labels=dict(labels) if isinstance(labels, dict) else {},
            layers=tuple(layer.digest for layer in m.layers),
            layer_sizes=sizes,
            diff_ids=diff_ids,
        )

    def save(self) -> None:
        """Persist new facts (best effort: a lost write only costs recomputation)."""
        if not self._dirty:
            return
        data = {
            "version": CACHE_VERSION,
            "images": {
                d: {
                    "config": f.config,
                    "created": f.created,
                    "labels": f.labels,
                    "layers": list(f.layers),
                    "layer_sizes": list(f.layer_sizes),
                    "diff_ids": list(f.diff_ids),
                }
                for d, f in self._facts.items()
            },
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".images-")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

    def forget(self, manifests: Iterable[str]) -> None:
        for d in manifests:
            if self._facts.pop(d, None) is not None:
                self._dirty = True


def stored_images(index: Index, cache: FactsCache) -> list[StoredImage]:
    """Index entries grouped into images, in index order of first appearance."""
    by_id: dict[str, StoredImage] = {}
    for entry in index.entries:
        facts = cache.get(entry.digest)
        image = by_id.get(facts.config)
        if image is None:
            image = by_id[facts.config] = StoredImage(facts, [], [])
        if all(m.digest != entry.digest for m in image.manifests):
            image.manifests.append(entry.descriptor)
        if entry.name and entry.name not in image.names:
            image.names.append(entry.name)
    return list(by_id.values())


def config_of(store: Store, image: StoredImage) -> dict[str, Any]:
    return store.read_config(image.facts.config)
