"""Prune, fsck and listing on a built-in store of about 10,000 blobs and 10,000 tags, in one run.

Usage (from the repository root, with imgtui installed in the running Python):

    python bench/store_ops.py [--images 2500] [--tags-per-image 4] [--runs 3] [--keep DIR]

Fills a fresh store through the Store API: each image has a manifest, a config and two layers
(one layer in five images is shared by ten of them), so 2,500 images make about 9,500 blobs and
10,000 tags. Then times, min / median / max wall seconds over --runs:

- a sweep with nothing to remove (API, under the lock) and `imgtui prune -f` with nothing dangling;
- a sweep with 10 % orphans (the blobs of 250 images whose names and manifests were dropped) and
  `imgtui prune -f` deleting 250 dangling images;
- fsck (API) and `imgtui fsck`;
- listing: `imgtui images` cold (no side-folder cache) and warm, and the raw reads underneath
  (index.json plus every manifest and config).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from imgtui.store import gc, oci
from imgtui.store.layout import Index, IndexEntry, Store
from imgtui.store.oci import Descriptor

SHARED_EVERY = 5  # one image in this many uses a layer shared with others
SHARED_LAYERS = 50


def layer_tar(name: str, data: bytes) -> bytes:
    """A one-file uncompressed layer, reproducible byte for byte."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_image(store: Store, n: int) -> Descriptor:
    """Image n's blobs: a (maybe shared) base layer, its own layer, config and manifest."""
    if n % SHARED_EVERY == 0:
        k = (n // SHARED_EVERY) % SHARED_LAYERS
        base = layer_tar(f"base/{k}", f"shared base {k}\n".encode() * 200)
    else:
        base = layer_tar(f"base/own{n}", f"own base {n}\n".encode() * 200)
    app = layer_tar(f"app/{n}", f"app {n}\n".encode() * 50)
    layers = []
    for data in (base, app):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        store.write_blob(data, expected_digest=digest)
        layers.append(Descriptor(oci.OCI_LAYER, digest, len(data)))
    created = f"2024-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z"
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["/app"], "Labels": {"bench": str(n)}},
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]},
        "history": [
            {"created": created, "created_by": "/bin/sh -c #(nop) ADD file:base in / "},
            {"created": created, "created_by": "/bin/sh -c #(nop) COPY dir:app in /app "},
        ],
    }
    cdigest, csize = store.write_json_blob(config)
    manifest = oci.Manifest(
        oci.OCI_MANIFEST, Descriptor(oci.OCI_CONFIG, cdigest, csize), tuple(layers)
    )
    digest, size = store.write_json_blob(manifest.to_json())
    return Descriptor(oci.OCI_MANIFEST, digest, size)


def named_entry(name: str, m: Descriptor) -> IndexEntry:
    """What Index.set_name would add (built directly: set_name is O(entries) per call)."""
    tag = name.rsplit(":", 1)[1]
    annotations = {oci.NAME_ANNOTATION: name, oci.REF_ANNOTATION: tag}
    return IndexEntry(Descriptor(m.media_type, m.digest, m.size, annotations))


def fill(store: Store, images: int, tags: int) -> dict[int, Descriptor]:
    manifests = {n: write_image(store, n) for n in range(images)}
    with store.locked() as index:
        index.entries = [
            named_entry(f"docker.io/bench/app{n:04d}:v{t}", m)
            for n, m in manifests.items()
            for t in range(tags)
        ]
        index.changed = True
    return manifests


def drop_images(store: Store, victims: list[int], *, dangling: bool) -> None:
    """Take the names of `victims` away; their manifests stay dangling or go too."""
    prefixes = tuple(f"docker.io/bench/app{n:04d}:" for n in victims)
    with store.locked() as index:
        gone = [e for e in index.entries if e.name and e.name.startswith(prefixes)]
        keep = [e for e in index.entries if not (e.name and e.name.startswith(prefixes))]
        index.entries = keep
        if dangling:
            seen: set[str] = set()
            for e in gone:
                if e.digest not in seen:
                    seen.add(e.digest)
                    index.add_dangling(e.descriptor)
        index.changed = True


def restore(store: Store, manifests: dict[int, Descriptor], victims: list[int], tags: int) -> None:
    """Rewrite the victims' blobs and names, so the next run finds the same store."""
    for n in victims:
        manifests[n] = write_image(store, n)
    with store.locked() as index:
        digests = {manifests[n].digest for n in victims}
        index.entries = [e for e in index.entries if e.digest not in digests]
        index.entries += [
            named_entry(f"docker.io/bench/app{n:04d}:v{t}", manifests[n])
            for n in victims
            for t in range(tags)
        ]
        index.changed = True


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "imgtui"]
    return subprocess.run(
        [*cmd, "--backend", "builtin", "--store", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
    )


def timed(label: str, runs: int, fn: Callable[[], object], before: Callable[[], object] = dict):
    """Time fn() `runs` times (before() untimed ahead of each); print and return the figures."""
    times = []
    result: object = None
    for _ in range(runs):
        before()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    print(
        f"{label:<52} {min(times):8.3f} {statistics.median(times):8.3f} {max(times):8.3f}",
        flush=True,
    )
    return result


def sweep(store: Store) -> gc.SweepReport:
    with store.locked() as index:
        return gc.sweep(store, index)


def raw_listing(store: Store) -> int:
    """index.json, then every manifest and config blob read and parsed once."""
    index: Index = store.read_index()
    count = 0
    for digest in index.manifests():
        m = store.read_manifest(digest)
        store.read_config(m.config.digest)
        count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2500)
    ap.add_argument("--tags-per-image", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build the store here and leave it")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="imgtui-bench-")) / "store"
    if root.exists():
        shutil.rmtree(root)
    store = Store.open(root)
    start = time.perf_counter()
    manifests = fill(store, args.images, args.tags_per_image)
    blobs = sum(1 for _ in store.blobs.iterdir())
    tags = len(store.read_index().entries)
    print(
        f"filled {root}: {args.images} images, {tags} tags, {blobs} blobs"
        f" in {time.perf_counter() - start:.1f} s (fsynced writes)"
    )
    print(f"{'wall seconds':<52} {'min':>8} {'median':>8} {'max':>8}")

    report = timed("fsck (API, hashes every blob)", args.runs, lambda: gc.fsck(store))
    assert isinstance(report, gc.FsckReport) and report.ok and not report.orphans, report
    timed("imgtui fsck", args.runs, lambda: cli(root, "fsck"))

    cache = store.cache / "images.json"
    out = timed(
        "imgtui images, cold (side-folder cache dropped)",
        args.runs,
        lambda: cli(root, "images"),
        before=lambda: cache.unlink(missing_ok=True),
    )
    rows = len(out.stdout.splitlines()) - 1  # type: ignore[attr-defined]
    timed("imgtui images, warm", args.runs, lambda: cli(root, "images"))
    timed(
        "imgtui images --format json, warm",
        args.runs,
        lambda: cli(root, "images", "--format", "json"),
    )
    timed(
        "read index.json + every manifest and config (API)", args.runs, lambda: raw_listing(store)
    )
    print(f"  ({rows} rows listed)")

    nothing = timed("sweep, nothing to remove (API)", args.runs, lambda: sweep(store))
    assert isinstance(nothing, gc.SweepReport) and not nothing.removed
    timed("imgtui prune -f, nothing dangling", args.runs, lambda: cli(root, "prune", "-f"))

    victims = list(range(0, args.images, 10))  # 10 % of the images, about 10 % of the blobs

    def orphan_victims() -> None:
        restore(store, manifests, victims, args.tags_per_image)
        drop_images(store, victims, dangling=False)

    swept = timed("sweep, 10 % orphans (API)", args.runs, lambda: sweep(store), orphan_victims)
    assert isinstance(swept, gc.SweepReport)
    print(f"  ({len(swept.removed)} blobs, {swept.bytes_freed} bytes removed per run)")

    def dangle_victims() -> None:
        restore(store, manifests, victims, args.tags_per_image)
        drop_images(store, victims, dangling=True)

    timed(
        "imgtui prune -f, 10 % dangling",
        args.runs,
        lambda: cli(root, "prune", "-f"),
        dangle_victims,
    )
    restore(store, manifests, victims, args.tags_per_image)
    final = gc.fsck(store)
    print(f"final fsck: ok={final.ok}, {len(final.orphans)} orphans")
    if not args.keep:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
