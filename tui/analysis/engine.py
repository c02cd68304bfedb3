"""Layer trees and dive's figures, computed from one pass over each layer and cached.

A layer is read once (`scan_layer`) into a compact `ScannedLayer`: its entries by path, its
whiteouts and opaque folders. That result depends only on the layer's bytes, so it is cached as
JSON under its diff_id; an image sharing base layers with one already seen, or a second look at
the same image, reads no layer again. The image-level figures are cached as well, keyed by the
config digest and the diff_ids, so a repeated `imgtui analyze` reads one small file.

`compute` then walks the layers bottom up, keeping the merged file system (to classify each
entry as added/modified/unchanged, and to size what a whiteout removed) and dive's per-path
discoveries (see `imgtui.analysis.model` for the definitions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict

from imgtui.analysis.model import (
    AnalysisProgress,
    FileNode,
    ImageAnalysis,
    InefficientFile,
    LayerAnalysis,
)
from imgtui.analysis.tarscan import KINDS, TarFormatError, iter_entries

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from os import PathLike
    from typing import IO, Any

# Bump when the cached shapes change: older files are then ignored (and rewritten).
CACHE_VERSION = 1

Row = tuple[str, int, int, int, int, str, str]  # kind, mode, uid, gid, size, link, digest hex

Progress = Callable[[AnalysisProgress], None]


class AnalysisError(ValueError):
    """The image or one of its layers cannot be analysed; str() says what and where."""


class ScannedLayer:
    """What one pass over a layer tar found; depends on the layer's bytes only."""

    __slots__ = ("count", "entries", "opaques", "size", "whiteouts")

    def __init__(
        self,
        entries: dict[str, Row],
        whiteouts: list[str],
        opaques: list[str],
        size: int,
        count: int,
    ) -> None:
        self.entries = entries  # path (no leading "/") -> row, in tar order
        self.whiteouts = whiteouts  # paths a ".wh.NAME" removes
        self.opaques = opaques  # folders a ".wh..wh..opq" empties
        self.size = size  # dive's layer size: data bytes of every header
        self.count = count  # members, whiteouts included

    def to_json(self) -> dict[str, Any]:
        return {
            "v": CACHE_VERSION,
            "size": self.size,
            "count": self.count,
            "whiteouts": self.whiteouts,
            "opaques": self.opaques,
            "entries": [[p, *row] for p, row in self.entries.items()],
        }

    @classmethod
    def from_json(cls, obj: Any) -> ScannedLayer:
        if not isinstance(obj, dict) or obj.get("v") != CACHE_VERSION:
            raise ValueError("not a layer of this cache version")
        entries = {e[0]: tuple(e[1:]) for e in obj["entries"]}
        return cls(entries, obj["whiteouts"], obj["opaques"], obj["size"], obj["count"])  # type: ignore[arg-type]


def scan_layer(stream: IO[bytes], where: str) -> ScannedLayer:
    """One pass over an uncompressed layer tar."""
    entries: dict[str, Row] = {}
    whiteouts: list[str] = []
    opaques: list[str] = []
    size = 0
    count = 0
    for path, kind, mode, uid, gid, fsize, link, digest in iter_entries(stream, where=where):
        count += 1
        size += fsize
        if ".wh." in path:
            head, _, base = path.rpartition("/")
            if base.startswith(".wh."):
                if base == ".wh..wh..opq":
                    opaques.append(head)
                elif not base.startswith(".wh..wh."):  # other AUFS bookkeeping is ignored
                    whiteouts.append(f"{head}/{base[4:]}" if head else base[4:])
                continue
        if not path:
            continue  # the root folder itself ("./")
        entries[path] = (kind, mode, uid, gid, fsize, link, digest)
    return ScannedLayer(entries, whiteouts, opaques, size, count)


def scan_guarded(
    open_: Callable[[], contextlib.AbstractContextManager[IO[bytes]]], where: str
) -> ScannedLayer:
    """scan_layer with every way a layer can be broken turned into one AnalysisError line."""
    import zlib

    try:
        with open_() as stream:
            return scan_layer(stream, where)
    except AnalysisError:
        raise
    except TarFormatError as e:
        raise AnalysisError(str(e)) from None
    except (OSError, EOFError, zlib.error, ValueError) as e:
        raise AnalysisError(f"{where}: corrupt layer data ({e or type(e).__name__})") from None
    except Exception as e:  # zstandard.ZstdError and friends
        if type(e).__module__.startswith("zstandard"):
            raise AnalysisError(f"{where}: corrupt zstd data ({e})") from None
        raise


# ------------------------------------------------------------------------------------ cache


class Cache:
    """Analysis results on disk: layers by diff_id, image figures by config + layers.

    Writes are atomic (temp file + rename) and best effort: a cache that cannot be written
    costs a rescan next time, never a failure. Anything unreadable is treated as missing.
    """

    def __init__(self, root: str | PathLike[str] | None) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> str | None:
        # os.path, not pathlib: a cached `imgtui analyze` imports nothing it can do without
        if self.root is None:
            return None
        hexpart = key.removeprefix("sha256:")
        if not hexpart.isalnum():
            return None
        return os.path.join(self.root, kind, f"{hexpart}.json")

    def _read(self, kind: str, key: str) -> Any:
        path = self._path(kind, key)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def _write(self, kind: str, key: str, obj: Any) -> None:
        path = self._path(kind, key)
        if path is None:
            return
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
            # as tempfile.mkstemp does it, without importing tempfile (shutil, random: ~1 MiB)
            tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(obj, separators=(",", ":")))
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def layer(self, diff_id: str) -> ScannedLayer | None:
        obj = self._read("layers", diff_id)
        if obj is None:
            return None
        try:
            return ScannedLayer.from_json(obj)
        except (ValueError, KeyError, TypeError, IndexError):
            return None

    def put_layer(self, diff_id: str, layer: ScannedLayer) -> None:
        self._write("layers", diff_id, layer.to_json())

    def config(self, digest: str) -> dict[str, Any] | None:
        obj = self._read("configs", digest)
        return obj if isinstance(obj, dict) and isinstance(obj.get("rootfs"), dict) else None

    def put_config(self, digest: str, config: Mapping[str, Any]) -> None:
        self._write("configs", digest, dict(config))

    def image(self, key: str) -> ImageAnalysis | None:
        obj = self._read("images", key)
        if not isinstance(obj, dict) or obj.get("v") != CACHE_VERSION:
            return None
        try:
            return _analysis_from_json(obj["analysis"])
        except (ValueError, KeyError, TypeError):
            return None

    def put_image(self, key: str, analysis: ImageAnalysis) -> None:
        data = asdict(analysis)
        for layer in data["layers"]:
            layer["tree"] = None
        data["cached"] = False
        self._write("images", key, {"v": CACHE_VERSION, "analysis": data})


def image_key(config_digest: str, diff_ids: Sequence[str]) -> str:
    """The image-level cache key: what the figures depend on."""
    text = "\n".join([str(CACHE_VERSION), config_digest, *diff_ids])
    return hashlib.sha256(text.encode()).hexdigest()


def _analysis_from_json(d: dict[str, Any]) -> ImageAnalysis:
    layers = tuple(LayerAnalysis(**{**x, "tree": None}) for x in d["layers"])
    inefficient = tuple(InefficientFile(**x) for x in d["inefficient"])
    return ImageAnalysis(
        image=d["image"],
        id=d["id"],
        layers=layers,
        size=d["size"],
        user_size=d["user_size"],
        wasted_bytes=d["wasted_bytes"],
        user_wasted_percent=d["user_wasted_percent"],
        efficiency=d["efficiency"],
        inefficient=inefficient,
        config=d.get("config") or {},
        cached=True,
    )


# ------------------------------------------------------------------------------------ figures


class _Merged:
    """The merged file system of the layers applied so far.

    Subtrees (for whiteouts of folders and opaque folders, rare next to plain entries) are
    found by bisecting a sorted index of the paths, rebuilt only when asked after a change:
    merging the new paths into the old sorted run is linear, so a layer costs one pass at most.
    """

    def __init__(self) -> None:
        self.files: dict[str, Row] = {}
        self.new: list[str] = []  # paths added since the index was built
        self._index: list[str] = []  # sorted; removed paths stay until the next rebuild

    def _keys(self) -> list[str]:
        if self.new:
            self.new.sort()
            keys = self._index + self.new
            keys.sort()  # two sorted runs: timsort merges them in one pass
            self.new = []
            files = self.files
            keys = [k for k in keys if k in files]
            if len(keys) > len(files):  # a path removed and added again is in both runs
                keys = list(dict.fromkeys(keys))
            self._index = keys
        return self._index

    def subtree(self, path: str) -> list[str]:
        """Every present path below `path` (not itself)."""
        keys = self._keys()
        lo = bisect_left(keys, path + "/")
        hi = bisect_left(keys, path + "0", lo)  # "0" follows "/" in every encoding
        files = self.files
        return [k for k in keys[lo:hi] if k in files]

    def exists(self, path: str) -> bool:
        """A path is there as an entry or as a folder implied by entries below it."""
        return path in self.files or bool(self.subtree(path))

    def subtree_size(self, path: str) -> int:
        files = self.files
        return sum(files[p][4] for p in self.subtree(path))

    def children(self, path: str) -> list[str]:
        """The paths directly below `path`, implied folders included."""
        start = len(path) + 1
        return list(
            dict.fromkeys(
                p[: p.find("/", start)] if "/" in p[start:] else p for p in self.subtree(path)
            )
        )

    def remove_below(self, path: str) -> None:
        files = self.files
        for p in self.subtree(path):
            del files[p]

    def remove(self, path: str) -> None:
        row = self.files.pop(path, None)
        if row is None or row[0] == "d":  # only folders (or implied ones) have anything below
            self.remove_below(path)


def _whiteout_key(path: str) -> tuple[str, ...]:
    """Where dive's by-name walk meets the whiteout of `path` (its node is named ".wh.NAME")."""
    head, _, base = path.rpartition("/")
    return (*head.split("/"), ".wh." + base) if head else (".wh." + base,)


def node(path: str, row: Row, change: str) -> FileNode:
    kind, mode, uid, gid, size, link, digest = row
    return FileNode(
        path="/" + path,
        kind=KINDS.get(kind, kind),
        mode=mode,
        uid=uid,
        gid=gid,
        size=size,
        link=link,
        digest="sha256:" + digest if digest else "",
        change=change,  # type: ignore[arg-type]
    )


def _removed_node(path: str, row: Row | None) -> FileNode:
    if row is None:
        return FileNode("/" + path, "dir", 0, 0, 0, 0, change="removed")  # an implied folder
    return node(path, row, "removed")


def compute(
    image: str,
    config_digest: str,
    config: Mapping[str, Any],
    layers: Iterable[ScannedLayer],
    diff_ids: Sequence[str],
    *,
    trees: bool = False,
) -> tuple[ImageAnalysis, dict[str, Row]]:
    """dive's figures, each layer's changes, and the merged file system of the image.

    `layers` (one per diff_id, bottom up) is read once, so it can be a generator that lets
    each layer go once it is folded in.
    """
    merged = _Merged()
    files = merged.files
    # path -> the size of its one discovery (most paths: an int, not a list, saves ~90 bytes a
    # path), or [cumulative size, smallest discovery, discoveries] from the second on
    found: dict[str, int | list[int]] = {}
    # Folders dive no longer knows as folders: when a layer holds files below a folder but no
    # header for the folder itself, dive's stacked tree gives it an empty record (not a
    # folder), and a later whiteout of it then counts 0 bytes. Kept to agree with dive.
    blanked: set[str] = set()
    commands = layer_commands(config, len(diff_ids))
    image_size = base_size = 0
    out: list[LayerAnalysis] = []

    def discover(path: str, size: int) -> None:
        d = found.get(path)
        if d is None:
            found[path] = size
        elif type(d) is int:
            found[path] = [d + size, min(d, size), 2]
        else:
            d[0] += size
            if size < d[1]:
                d[1] = size
            d[2] += 1

    for index, layer in enumerate(layers):
        image_size += layer.size
        if index == 0:
            base_size = layer.size
        entries = layer.entries
        whiteouts = layer.whiteouts
        opaques = layer.opaques
        # the folders of this layer's own tree (dive builds one tree per layer): not leaves
        parents: set[str] = set()
        for group in (entries, whiteouts, opaques):
            for p in group:
                q = p.rpartition("/")[0]
                while q and q not in parents:
                    parents.add(q)
                    q = q.rpartition("/")[0]
        # dive visits a layer's leaves by name, depth first, and stops at the first whiteout of
        # a path it does not have (docker never writes one): leaves after it are not counted
        cutoff = None
        if whiteouts:
            strays = [w for w in whiteouts if not merged.exists(w)]
            if strays:
                first = min(strays, key=_whiteout_key)
                cutoff = _whiteout_key(first)
                # dive has already made the path's record (smallest size -1) when it fails
                found.setdefault(first, [0, -1, 0])
        tree: list[FileNode] | None = [] if trees else None
        changes: list[str] | None = [] if trees else None
        added = modified = removed = 0
        # leaves are discovered, and entries classified against the layers below
        get = files.get
        fget = found.get
        for p, row in entries.items():
            if p not in parents and (cutoff is None or tuple(p.split("/")) < cutoff):
                size = row[4]
                d = fget(p)
                if d is None:
                    found[p] = size
                elif type(d) is int:
                    found[p] = [d + size, d if d < size else size, 2]
                else:
                    d[0] += size
                    if size < d[1]:
                        d[1] = size
                    d[2] += 1
            before = get(p)
            if before is None:
                added += 1
                change = "added"
            elif before != row:
                modified += 1
                change = "modified"
            else:
                change = "unchanged"
            if changes is not None:
                changes.append(change)
        for p in opaques:
            # dive makes the folder a node of its own
            counted = cutoff is None or tuple(p.split("/")) < cutoff
            if p and p not in parents and p not in entries and counted:
                discover(p, 0)
        for p in whiteouts:
            before = get(p)
            # a removed folder counts the bytes it held; a removed file counts 0 (as dive)
            is_dir = before is not None and before[0] == "d" and p not in blanked
            if cutoff is None or _whiteout_key(p) < cutoff:
                discover(p, merged.subtree_size(p) if is_dir else 0)
            if before is not None or merged.exists(p):
                removed += 1
            if tree is not None:
                tree.append(_removed_node(p, before))
        # what dive's stacked tree will know of this layer's folders (see `blanked`)
        for q in parents:
            if q in entries:
                blanked.discard(q)
            else:
                blanked.add(q)
        if blanked:
            for p, row in entries.items():
                if row[0] == "d":
                    blanked.discard(p)
        for d in opaques:
            for p in merged.children(d):
                if p not in entries:
                    removed += 1
                    if tree is not None:
                        tree.append(_removed_node(p, get(p)))
            merged.remove_below(d)
        for p in whiteouts:
            merged.remove(p)
        new = merged.new
        for p, row in entries.items():
            if p not in files:
                new.append(p)
            files[p] = row
        if tree is not None and changes is not None:
            tree[:0] = [
                node(p, row, c) for (p, row), c in zip(entries.items(), changes, strict=True)
            ]
        out.append(
            LayerAnalysis(
                index=index,
                diff_id=diff_ids[index],
                size=layer.size,
                command=commands[index],
                entries=layer.count,
                added=added,
                modified=modified,
                removed=removed,
                tree=tuple(tree) if tree is not None else None,
            )
        )

    minimum = 0
    total = 0
    inefficient: list[InefficientFile] = []
    for p, d in found.items():
        if type(d) is int:  # one discovery: no waste
            minimum += d
            total += d
            continue
        cum, low, n = d
        minimum += low
        total += cum
        if n >= 2:
            inefficient.append(InefficientFile("/" + p, n, cum))
    inefficient.sort(key=lambda f: (-f.wasted, f.path))
    user_size = image_size - base_size
    wasted = sum(f.wasted for f in inefficient)
    analysis = ImageAnalysis(
        image=image,
        id=config_digest,
        layers=tuple(out),
        size=image_size,
        user_size=user_size,
        wasted_bytes=wasted,
        user_wasted_percent=wasted / user_size if user_size else 0.0,
        efficiency=minimum / total if total else 1.0,
        inefficient=tuple(inefficient),
        config=_runtime_config(config),
    )
    return analysis, files


def _runtime_config(config: Mapping[str, Any]) -> dict[str, Any]:
    c = config.get("config") or config.get("Config") or {}
    return dict(c) if isinstance(c, Mapping) else {}


def layer_commands(config: Mapping[str, Any], count: int) -> list[str]:
    """Each layer's history step: the non-empty history entries in order, as dive pairs them."""
    history = config.get("history") or []
    steps = [
        str(h.get("created_by") or "")
        for h in history
        if isinstance(h, Mapping) and not h.get("empty_layer")
    ]
    steps += [""] * (count - len(steps))
    return steps[:count]


# ------------------------------------------------------------------------------------ driving


class LayerSource:
    """What `analyze` needs from wherever an image lives: its config and a way to its layers."""

    image: str
    config_digest: str
    config: Mapping[str, Any]
    diff_ids: Sequence[str]

    def scan(self, wanted: Sequence[int]) -> Iterable[tuple[int, ScannedLayer]]:
        """Scan the layers at these indexes (any order)."""
        raise NotImplementedError


class RandomAccessSource(LayerSource):
    """A source whose layers can each be opened on their own (files, blobs): scanned in threads.

    zlib, zstd, hashlib and file reads release the GIL, so two layers read at once use two
    cores for the heavy part; the header parsing itself still takes turns.
    """

    def __init__(
        self,
        image: str,
        config_digest: str,
        config: Mapping[str, Any],
        diff_ids: Sequence[str],
        opener: Callable[[int], contextlib.AbstractContextManager[IO[bytes]]],
        label: Callable[[int], str],
    ) -> None:
        self.image = image
        self.config_digest = config_digest
        self.config = config
        self.diff_ids = diff_ids
        self.opener = opener
        self.label = label

    def _one(self, i: int) -> tuple[int, ScannedLayer]:
        return i, scan_guarded(lambda: self.opener(i), self.label(i))

    def scan(self, wanted: Sequence[int]) -> Iterator[tuple[int, ScannedLayer]]:
        """Each layer as soon as it (and the ones before it) is read, so progress is live."""
        if len(wanted) <= 1:
            yield from (self._one(i) for i in wanted)
            return
        workers = min(len(wanted), max(1, min(4, os.cpu_count() or 1)))
        yield from _in_threads(self._one, wanted, workers)


def _in_threads(
    fn: Callable[[int], tuple[int, ScannedLayer]], items: Sequence[int], workers: int
) -> Iterator[tuple[int, ScannedLayer]]:
    """fn of each item on `workers` threads, results in the order of items (as Executor.map).

    A plain pool: concurrent.futures would import logging and friends (about 1 MiB) for this.
    The first error (in item order) is raised once the items before it are out; the threads
    then take no new item and are waited for, as they are when the caller stops early.
    """
    import threading

    done: dict[int, tuple[bool, Any]] = {}  # position -> (ok, result or exception)
    cond = threading.Condition()
    state = {"next": 0, "stop": False}

    def work() -> None:
        while True:
            with cond:
                k = state["next"]
                if state["stop"] or k >= len(items):
                    return
                state["next"] = k + 1
            try:
                outcome: tuple[bool, Any] = (True, fn(items[k]))
            except BaseException as e:  # handed to the consumer, as a Future would
                outcome = (False, e)
            with cond:
                done[k] = outcome
                if not outcome[0]:
                    state["stop"] = True
                cond.notify_all()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    try:
        for k in range(len(items)):
            with cond:
                while k not in done:
                    cond.wait()
                ok, value = done.pop(k)
            if not ok:
                raise value
            yield value
    finally:
        with cond:
            state["stop"] = True
        for t in threads:
            t.join()


def analyze(
    source: LayerSource,
    cache: Cache,
    *,
    trees: bool = False,
    progress: Progress | None = None,
) -> tuple[ImageAnalysis, dict[str, Row] | None]:
    """The analysis of one image, from cache where possible; the merged files when computed."""
    diff_ids = list(source.diff_ids)
    key = image_key(source.config_digest, diff_ids)
    total = len(diff_ids)
    if not trees:
        hit = cache.image(key)
        if hit is not None:
            if progress is not None:
                for i, d in enumerate(diff_ids):
                    progress(AnalysisProgress(i, total, d, cached=True))
            return _renamed(hit, source.image), None
    scanned: dict[int, ScannedLayer] = {}
    missing: list[int] = []
    for i, d in enumerate(diff_ids):
        layer = cache.layer(d)
        if layer is None:
            missing.append(i)
        else:
            scanned[i] = layer
            if progress is not None:
                progress(AnalysisProgress(i, total, d, cached=True))
    # several indexes may be the same layer (an image can repeat one): scan it once
    first: dict[str, int] = {}
    for i in missing:
        first.setdefault(diff_ids[i], i)
    by_id = {diff_ids[i]: layer for i, layer in scanned.items()}
    del scanned
    last_use = {d: i for i, d in enumerate(diff_ids)}

    def bottom_up() -> Iterator[ScannedLayer]:
        """Each layer in order, folded in while the next ones are still being scanned; each is
        let go after its last use, so the image's layers are never all held at once."""
        results = iter(source.scan(sorted(first.values())) if first else ())
        try:
            for i, d in enumerate(diff_ids):
                while d not in by_id:
                    j, layer = next(results)
                    by_id[diff_ids[j]] = layer
                    cache.put_layer(diff_ids[j], layer)
                    if progress is not None:
                        progress(AnalysisProgress(j, total, diff_ids[j]))
                layer = by_id.pop(d) if last_use[d] == i else by_id[d]
                yield layer
                del layer
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # a scan left early (an error) waits for its threads here

    analysis, files = compute(
        source.image, source.config_digest, source.config, bottom_up(), diff_ids, trees=trees
    )
    cache.put_image(key, analysis)
    return analysis, files


def _renamed(analysis: ImageAnalysis, image: str) -> ImageAnalysis:
    from dataclasses import replace

    return replace(analysis, image=image)
