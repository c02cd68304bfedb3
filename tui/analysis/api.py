"""Entry points of image analysis for backends, the CLI and the TUI.

Backends call `run` with a LayerSource and the cache that fits them (the store's side folder,
or the user cache dir for the daemon and for archives); `diff` compares two analysed images.
Everything returned is a frozen dataclass of `imgtui.analysis.model`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

from imgtui.analysis.engine import (
    AnalysisError,
    Cache,
    LayerSource,
    Progress,
    analyze,
)
from imgtui.analysis.model import ConfigChange, FileChange, FileNode, ImageAnalysis, ImageDiff
from imgtui.analysis.sources import open_transport, split_transport

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "AnalysisError",
    "analyze_transport",
    "diff",
    "merged_files",
    "run",
    "split_transport",
    "user_cache",
]


def user_cache() -> Cache:
    """The cache for images outside the store: IMGTUI_CACHE_DIR, else the user cache dir."""
    root = os.environ.get("IMGTUI_CACHE_DIR")
    if root:
        return Cache(os.path.join(root, "analysis"))
    return Cache(os.path.join(user_cache_dir(), "analysis"))


def user_cache_dir() -> str:
    """platformdirs' user cache dir for imgtui; on Linux without importing platformdirs.

    Its Linux rule is the XDG one (XDG_CACHE_HOME, else ~/.cache) and importing it costs
    `imgtui analyze` about 1 MiB of its peak (issue 7); tests check the two agree.
    """
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if xdg.strip() else os.path.expanduser("~/.cache")
        return os.path.join(base, "imgtui")
    import platformdirs

    return platformdirs.user_cache_dir("imgtui")


def run(
    source: LayerSource,
    cache: Cache,
    *,
    trees: bool = False,
    progress: Progress | None = None,
) -> ImageAnalysis:
    """Analyse one image (figures from cache when it has them)."""
    return analyze(source, cache, trees=trees, progress=progress)[0]


def analyze_transport(
    spec: str,
    *,
    platform: str | None = None,
    trees: bool = False,
    progress: Progress | None = None,
    cache: Cache | None = None,
) -> ImageAnalysis:
    """Analyse docker-archive:PATH, oci-archive:PATH or oci:DIR[:TAG] without any daemon."""
    with open_transport(spec, platform=platform) as source:
        return run(source, cache or user_cache(), trees=trees, progress=progress)


def _config_changes(c1: Mapping[str, Any], c2: Mapping[str, Any]) -> list[ConfigChange]:
    from imgtui.store import oci  # diff only

    out = []
    for key in oci.RUNTIME_CONFIG_KEYS:
        a, b = c1.get(key) or None, c2.get(key) or None
        # Env is compared as a set of variables: the order of equal ones is no change
        if key == "Env" and a is not None and b is not None and sorted(a) == sorted(b):
            continue
        if a != b:
            out.append(ConfigChange(key, a, b))
    return out


def merged_files(analysis: ImageAnalysis) -> dict[str, FileNode]:
    """The image's final file system, replayed from its layer trees (analysis with trees)."""
    files: dict[str, FileNode] = {}
    for layer in analysis.layers:
        if layer.tree is None:
            raise ValueError("merged_files needs an analysis made with trees=True")
        gone = {n.path for n in layer.tree if n.change == "removed"}
        if gone:
            for path in list(files):
                q = path
                while q:
                    if q in gone:
                        del files[path]
                        break
                    q = q.rpartition("/")[0]
        for n in layer.tree:
            if n.change != "removed":
                files[n.path] = n
    return files


def _key(n: FileNode) -> tuple[object, ...]:
    return (n.kind, n.mode, n.uid, n.gid, n.size, n.link, n.digest)


def _what(a: FileNode, b: FileNode) -> tuple[str, ...]:
    what = []
    if a.kind != b.kind:
        what.append("type")
    if a.digest != b.digest:
        what.append("content")
    if a.size != b.size:
        what.append("size")
    if a.mode != b.mode:
        what.append("mode")
    if (a.uid, a.gid) != (b.uid, b.gid):
        what.append("owner")
    if a.link != b.link:
        what.append("link")
    return tuple(what)


def diff(one: ImageAnalysis, two: ImageAnalysis) -> ImageDiff:
    """Files added, removed and changed from image one to image two, and config changes.

    Both analyses must carry their layer trees (`trees=True`).
    """
    f1, f2 = merged_files(one), merged_files(two)
    changes: list[FileChange] = []
    for path in sorted(f1.keys() | f2.keys()):
        a, b = f1.get(path), f2.get(path)
        if a is None:
            assert b is not None
            changes.append(FileChange(path, "added", None, replace(b, change="added")))
        elif b is None:
            changes.append(FileChange(path, "removed", replace(a, change="removed"), None))
        elif _key(a) != _key(b):
            changes.append(
                FileChange(
                    path,
                    "changed",
                    replace(a, change="unchanged"),
                    replace(b, change="modified"),
                    _what(a, b),
                )
            )
    return ImageDiff(
        image1=one.image,
        image2=two.image,
        id1=one.id,
        id2=two.id,
        files=tuple(changes),
        config=tuple(_config_changes(one.config, two.config)),
        size1=one.size,
        size2=two.size,
    )
