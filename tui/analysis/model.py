"""The plain data of image analysis: what the CLI prints and the TUI's Layers tab shows.

Figures follow dive's definitions (wagoodman/dive, `filetree/efficiency.go`, `image/analysis.go`)
so `imgtui analyze` and `dive --ci` agree on the same image:

* a layer's size is the sum of the sizes its tar headers give (file data; links and folders 0);
* every path that is a leaf of some layer's tree is "discovered" with that layer's size for it
  (a whiteout of a folder counts the bytes the folder held below, of a file 0);
* a path discovered in two or more layers is an inefficient file; its wasted bytes are the sum
  of all its discoveries (the copy that survives included, as dive counts it);
* efficiency = sum of each path's smallest discovery / sum of all discoveries (1.0 when none);
* user wasted percent = wasted bytes / the size of every layer but the first (as a ratio).

Two quirks of dive are followed too, so the figures match it to the byte on any tar: its walk
of a layer (by name, depth first) stops at the first whiteout of a path it does not have, and a
folder that a later layer re-creates only implicitly (files below it, no header for it) is no
folder to dive any more, so removing it then counts 0 bytes. One difference remains: dive
ignores opaque folders (`.wh..wh..opq`) while imgtui's trees apply them, so an image whose
opaque folder hid files that a later whiteout removes again can differ in those bytes.
The trees (`LayerAnalysis.tree`) follow the file system, not dive: opaque folders and
whiteouts are removals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Literal

    Change = Literal["added", "modified", "unchanged", "removed"]
else:
    Change = str  # typing is not imported at run time (a lean `imgtui analyze`)


@dataclass(frozen=True, slots=True)
class FileNode:
    """One path of a layer, as its tar header and data describe it."""

    path: str  # absolute, "/etc/passwd"
    kind: str  # "file", "dir", "symlink", "hardlink", "char", "block", "fifo"
    mode: int  # permission bits (0o7777 part)
    uid: int
    gid: int
    size: int  # bytes of data (regular files); 0 for the rest
    link: str = ""  # symlink or hard-link target
    digest: str = ""  # "sha256:<hex>" of a regular file's data
    change: Change = "added"  # against the layers below; "removed" comes from a whiteout


@dataclass(frozen=True, slots=True)
class LayerAnalysis:
    """One layer: its figures, and its file tree when asked for."""

    index: int  # 0 = base layer
    diff_id: str  # "sha256:…" of the uncompressed tar
    size: int  # dive's layer size: data bytes of the tar's headers
    command: str  # history created_by of the step that made it ("" when unknown)
    entries: int  # tar members, whiteouts included
    added: int
    modified: int
    removed: int  # paths a whiteout or an opaque folder hid (top-most only)
    # Every path the layer touches in tar order (removals included), when trees were asked for.
    tree: tuple[FileNode, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class InefficientFile:
    """A path several layers wrote or removed: dive's "inefficient file"."""

    path: str
    count: int  # layers that discovered it
    wasted: int  # cumulative bytes of all those copies


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    """Why an image is as big as it is; figures as dive defines them."""

    image: str  # what was asked for
    id: str  # config digest
    layers: tuple[LayerAnalysis, ...]
    size: int  # sum of layer sizes
    user_size: int  # every layer but the base
    wasted_bytes: int
    user_wasted_percent: float  # a ratio, as dive's (0.25 = 25 %)
    efficiency: float  # 0..1
    inefficient: tuple[InefficientFile, ...]  # largest waste first
    config: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    cached: bool = field(default=False, compare=False)  # answered without reading any layer


@dataclass(frozen=True, slots=True)
class FileChange:
    """A path that differs between two images' final filesystems."""

    path: str
    change: Literal["added", "removed", "changed"]
    before: FileNode | None
    after: FileNode | None
    what: tuple[str, ...] = ()  # for "changed": "type", "content", "size", "mode", "owner", "link"


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A runtime config field (Env, Cmd, …) that differs; values as the configs hold them."""

    key: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class ImageDiff:
    image1: str
    image2: str
    id1: str
    id2: str
    files: tuple[FileChange, ...]  # sorted by path
    config: tuple[ConfigChange, ...]
    size1: int
    size2: int


@dataclass(frozen=True, slots=True)
class AnalysisProgress:
    """Progress of an analysis: layer `index` of `total` is being read (or was in cache)."""

    index: int
    total: int
    diff_id: str
    cached: bool = False
