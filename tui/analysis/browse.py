"""The Layers tab's file tree, built from an analysis: one layer alone, or all layers up to it.

Kept apart from the widget (no Textual here) so the tree rules are tested directly and the
building, which walks every file of a 100,000-file image, runs in a worker thread. The widget only
flattens the part that is expanded and draws the lines on screen.

Change marks follow dive: in the aggregated view a path is "added" or "modified" when the chosen
layer wrote it, "removed" when that layer's whiteout hid it, and "unchanged" when it comes from
below; in the single-layer view every path is one the layer touched, and the folders above them
that it did not touch are shown as "unchanged".
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from imgtui.analysis.model import Change, FileNode, ImageAnalysis

CHANGES: tuple[Change, ...] = ("added", "modified", "removed", "unchanged")
SortKey = Literal["name", "size"]


@dataclass(slots=True, eq=False)
class TreeNode:
    """A path in the tree; folders hold their children by name."""

    name: str
    path: str  # "/" for the root
    node: FileNode | None  # None for a folder only implied by the paths below it
    change: Change = "unchanged"
    size: int = 0  # a file's bytes; a folder's: every file below it that is not removed
    children: dict[str, TreeNode] | None = None  # None: not a folder
    visible: bool = field(default=True)  # kept by the current filter

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    @property
    def kind(self) -> str:
        return self.node.kind if self.node is not None else "dir"


def _root() -> TreeNode:
    return TreeNode("/", "/", None, children={})


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _ensure_dir(root: TreeNode, parts: list[str]) -> TreeNode:
    """The folder at `parts`, made (as implied, unchanged) where missing."""
    node = root
    for n, part in enumerate(parts):
        assert node.children is not None
        child = node.children.get(part)
        if child is None or child.children is None:
            path = "/" + "/".join(parts[: n + 1])
            child = TreeNode(part, path, child.node if child else None, children={})
            node.children[part] = child
        node = child
    return node


def _put(root: TreeNode, f: FileNode, change: Change) -> TreeNode:
    parts = _parts(f.path)
    if not parts:
        return root  # the root itself ("./" in a tar): nothing to show
    parent = _ensure_dir(root, parts[:-1])
    assert parent.children is not None
    old = parent.children.get(parts[-1])
    if f.kind == "dir":
        kids = old.children if old is not None and old.children is not None else {}
        node = TreeNode(parts[-1], f.path, f, change, children=kids)
    else:
        node = TreeNode(parts[-1], f.path, f, change, size=f.size)
    parent.children[parts[-1]] = node
    return node


def _remove(root: TreeNode, path: str) -> TreeNode | None:
    parts = _parts(path)
    node = root
    for part in parts[:-1]:
        if node.children is None or part not in node.children:
            return None
        node = node.children[part]
    if node.children is None or not parts:
        return None
    return node.children.pop(parts[-1], None)


def _walk(node: TreeNode) -> Iterator[TreeNode]:
    """`node` and everything below it, parents before children, without recursion (trees
    100,000 paths wide and thousands deep exist)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.children:
            stack.extend(n.children.values())


def _mark_unchanged(node: TreeNode) -> None:
    for n in _walk(node):
        n.change = "unchanged"


def _sum_sizes(root: TreeNode) -> None:
    """Folder sizes, bottom-up: children come after their parents in the walk."""
    for n in reversed(list(_walk(root))):
        if n.children is not None and n.change != "removed":  # removed: what it held, kept
            n.size = sum(c.size for c in n.children.values() if c.change != "removed")


def _tree_of(analysis: ImageAnalysis, index: int) -> tuple[FileNode, ...]:
    tree = analysis.layers[index].tree
    if tree is None:
        raise ValueError("the Layers tab needs an analysis made with trees=True")
    return tree


def build_tree(analysis: ImageAnalysis, index: int, *, aggregated: bool) -> TreeNode:
    """The tree to show for layer `index`: that layer's changes alone, or everything up to it."""
    if not 0 <= index < len(analysis.layers):
        raise IndexError(f"layer {index} of an image with {len(analysis.layers)}")
    root = _root()
    if aggregated:
        for i in range(index):
            for f in _tree_of(analysis, i):
                if f.change == "removed":
                    _remove(root, f.path)
                else:
                    _put(root, f, "unchanged")
        _mark_unchanged(root)
    for f in _tree_of(analysis, index):
        if f.change == "removed":
            gone = _remove(root, f.path) if aggregated else None
            node = _put(root, f, "removed")
            if gone is not None:  # show what the whiteout hid, at the size it had
                node.children = gone.children
                node.node = gone.node or f
                if gone.children is not None:
                    _mark_removed(gone)
        else:
            _put(root, f, f.change)
    _sum_removed(root)
    _sum_sizes(root)
    return root


def _mark_removed(node: TreeNode) -> None:
    for child in (node.children or {}).values():
        for n in _walk(child):
            n.change = "removed"


def _sum_removed(root: TreeNode) -> None:
    """A removed folder's own size: what it held (it shows as "−1.2 MB", not as 0)."""
    stack = [root]
    while stack:
        n = stack.pop()
        if n.change == "removed" and n.children:
            n.size = sum(_held(c) for c in n.children.values())
            continue
        if n.children:
            stack.extend(n.children.values())


def _held(node: TreeNode) -> int:
    return sum(n.size for n in _walk(node) if not n.children)


def count(root: TreeNode) -> int:
    """Paths in the tree, the root aside."""
    return sum(len(n.children) for n in _walk(root) if n.children)


def apply_filter(root: TreeNode, changes: Iterable[Change], text: str = "") -> int:
    """Mark what the filter keeps: a path whose change is wanted and whose path holds `text`
    (case-insensitive), and every folder above one. Returns how many paths are kept."""
    wanted = set(changes)
    needle = text.strip().lower()
    kept = 0
    for n in reversed(list(_walk(root))):
        own = n.change in wanted and (not needle or needle in n.path.lower())
        below = bool(n.children) and any(c.visible for c in n.children.values())
        n.visible = own or below or n is root
        if n.visible and n is not root:
            kept += 1
    return kept


def children(node: TreeNode, sort: SortKey = "name") -> list[TreeNode]:
    """Visible children, folders and files mixed as dive shows them: by name, or largest first."""
    kids = [c for c in (node.children or {}).values() if c.visible]
    if sort == "size":
        kids.sort(key=lambda c: (-c.size, c.name))
    else:
        kids.sort(key=lambda c: c.name)
    return kids


@dataclass(frozen=True, slots=True)
class Line:
    """One drawn line of the tree: the node and the guide text before its name."""

    node: TreeNode
    depth: int
    guides: str  # "│   ├── " and the like


def flatten(
    root: TreeNode, expanded: set[str], sort: SortKey = "name", *, expand_all: bool = False
) -> list[Line]:
    """The lines on screen: every visible child of every expanded folder, depth first."""
    out: list[Line] = []
    stack: list[tuple[TreeNode, int, str, bool]] = [
        (c, 0, "", i == 0) for i, c in enumerate(reversed(children(root, sort)))
    ]
    while stack:
        node, depth, prefix, last = stack.pop()
        out.append(Line(node, depth, prefix + ("└── " if last else "├── ")))
        if node.children and (expand_all or node.path in expanded):
            kids = children(node, sort)
            inner = prefix + ("    " if last else "│   ")
            for i, c in enumerate(reversed(kids)):
                stack.append((c, depth + 1, inner, i == 0))
    return out


def folders(root: TreeNode, max_depth: int | None = None) -> Iterator[str]:
    """Paths of folders (for "expand all" and the starting expansion)."""
    stack = [(root, 0)]
    while stack:
        n, depth = stack.pop()
        for c in (n.children or {}).values():
            if c.children is not None and (max_depth is None or depth < max_depth):
                yield c.path
                stack.append((c, depth + 1))


def mode_text(node: TreeNode) -> str:
    """ls-style permissions ("drwxr-xr-x"); implied folders show as plain 755 folders."""
    f = node.node
    kind = f.kind if f is not None else "dir"
    mode = f.mode if f is not None else 0o755
    letter = {"dir": "d", "symlink": "l", "char": "c", "block": "b", "fifo": "p"}.get(kind, "-")
    return letter + stat.filemode(mode)[1:]


def owner_text(node: TreeNode) -> str:
    f = node.node
    return f"{f.uid}:{f.gid}" if f is not None else "0:0"
