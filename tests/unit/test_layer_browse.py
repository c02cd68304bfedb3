"""The Layers tab's tree rules: one layer or all up to it, change marks, sizes, filters, lines."""

from __future__ import annotations

import pytest

from imgtui.analysis.browse import (
    CHANGES,
    apply_filter,
    build_tree,
    children,
    count,
    flatten,
    folders,
    mode_text,
    owner_text,
)
from imgtui.analysis.model import FileNode, ImageAnalysis, LayerAnalysis


def _layer(index: int, *nodes: FileNode) -> LayerAnalysis:
    return LayerAnalysis(
        index=index,
        diff_id=f"sha256:{index:064x}",
        size=sum(n.size for n in nodes),
        command=f"step {index}",
        entries=len(nodes),
        added=0,
        modified=0,
        removed=0,
        tree=nodes,
    )


def F(path: str, size: int = 0, change: str = "added", **kw: object) -> FileNode:
    kind = kw.pop("kind", "file")
    return FileNode(path, str(kind), int(kw.pop("mode", 0o644)), 0, 0, size, change=change, **kw)  # type: ignore[arg-type]


def D(path: str, change: str = "added") -> FileNode:
    return FileNode(path, "dir", 0o755, 0, 0, 0, change=change)  # type: ignore[arg-type]


ANALYSIS = ImageAnalysis(
    image="x",
    id="sha256:" + "a" * 64,
    layers=(
        _layer(
            0,
            D("/etc"),
            F("/etc/passwd", 100),
            F("/etc/group", 50),
            D("/usr"),
            D("/usr/lib"),
            F("/usr/lib/big.so", 10_000),
            F("/usr/lib/small.so", 10),
            F("/bin/sh", 700, kind="symlink", link="busybox"),
        ),
        _layer(
            1,
            D("/etc", "modified"),
            F("/etc/passwd", 120, "modified"),
            D("/usr/lib", "removed"),  # a whiteout of the whole folder
            D("/app"),
            F("/app/run", 5, mode=0o755),
        ),
        _layer(2, F("/etc/group", 0, "removed"), F("/app/log", 7)),
    ),
    size=10_992,
    user_size=132,
    wasted_bytes=0,
    user_wasted_percent=0.0,
    efficiency=1.0,
    inefficient=(),
)


def _find(root, path):
    node = root
    for part in path.strip("/").split("/"):
        node = node.children[part]
    return node


def test_aggregated_tree_replays_the_layers_below_as_unchanged() -> None:
    root = build_tree(ANALYSIS, 1, aggregated=True)
    assert _find(root, "/etc/passwd").change == "modified"
    assert _find(root, "/etc/passwd").size == 120
    assert _find(root, "/etc/group").change == "unchanged"
    assert _find(root, "/app/run").change == "added"
    assert _find(root, "/bin/sh").node.link == "busybox"
    # the whiteout: the folder shows as removed, with what it held, and its contents too
    lib = _find(root, "/usr/lib")
    assert lib.change == "removed" and lib.size == 10_010
    assert {c.change for c in lib.children.values()} == {"removed"}
    # removed bytes do not count in the folders above
    assert _find(root, "/usr").size == 0
    assert _find(root, "/etc").size == 170
    assert root.size == 120 + 50 + 700 + 5


def test_aggregated_tree_forgets_what_lower_layers_removed() -> None:
    root = build_tree(ANALYSIS, 2, aggregated=True)
    assert "lib" not in _find(root, "/usr").children  # removed in layer 1: gone by layer 2
    assert _find(root, "/etc/group").change == "removed"
    assert _find(root, "/etc/passwd").change == "unchanged"
    assert _find(root, "/app/log").change == "added"


def test_single_layer_tree_holds_only_what_the_layer_touched() -> None:
    root = build_tree(ANALYSIS, 1, aggregated=False)
    assert set(root.children) == {"etc", "usr", "app"}
    assert set(_find(root, "/etc").children) == {"passwd"}
    usr = _find(root, "/usr")
    assert usr.node is None and usr.change == "unchanged"  # implied by /usr/lib only
    assert _find(root, "/usr/lib").change == "removed"
    assert count(root) == 6  # etc, passwd, usr, lib, app, run


def test_layer_index_is_checked() -> None:
    with pytest.raises(IndexError):
        build_tree(ANALYSIS, 3, aggregated=True)
    no_trees = ImageAnalysis(**{**_fields(ANALYSIS), "layers": (_layer(0),)})
    object.__setattr__(no_trees.layers[0], "tree", None)
    with pytest.raises(ValueError, match="trees=True"):
        build_tree(no_trees, 0, aggregated=True)


def _fields(a: ImageAnalysis) -> dict[str, object]:
    return {k: getattr(a, k) for k in a.__dataclass_fields__}


def test_filter_keeps_matches_and_their_folders() -> None:
    root = build_tree(ANALYSIS, 1, aggregated=True)
    kept = apply_filter(root, {"added"}, "")
    assert kept == 2  # /app and /app/run
    names = [line.node.path for line in flatten(root, set(folders(root)))]
    assert names == ["/app", "/app/run"]
    kept = apply_filter(root, CHANGES, "PASS")  # case-insensitive path match
    assert [line.node.path for line in flatten(root, set(folders(root)))] == [
        "/etc",
        "/etc/passwd",
    ]
    assert kept == 2
    assert apply_filter(root, CHANGES, "") == count(root)


def test_flatten_draws_guides_and_honours_expansion_and_sort() -> None:
    root = build_tree(ANALYSIS, 0, aggregated=True)
    apply_filter(root, CHANGES)
    closed = flatten(root, set())
    assert [line.node.name for line in closed] == ["bin", "etc", "usr"]
    assert [line.guides for line in closed] == ["├── ", "├── ", "└── "]
    lines = flatten(root, {"/etc", "/usr", "/usr/lib"})
    assert [(line.guides, line.node.name) for line in lines[1:5]] == [
        ("├── ", "etc"),
        ("│   ├── ", "group"),
        ("│   └── ", "passwd"),
        ("└── ", "usr"),
    ]
    assert lines[-1].guides == "        └── " and lines[-1].node.name == "small.so"
    by_size = [c.name for c in children(_find(root, "/usr/lib"), "size")]
    assert by_size == ["big.so", "small.so"]
    assert [c.name for c in children(root, "size")] == ["usr", "bin", "etc"]


def test_mode_and_owner_text() -> None:
    root = build_tree(ANALYSIS, 1, aggregated=False)
    assert mode_text(_find(root, "/app/run")) == "-rwxr-xr-x"
    assert mode_text(_find(root, "/usr")) == "drwxr-xr-x"  # implied folder
    assert owner_text(_find(root, "/app/run")) == "0:0"


def test_deep_tree_needs_no_recursion() -> None:
    deep = "/" + "/".join(f"d{n}" for n in range(3000))
    nodes = (F(deep + "/leaf", 1),)
    a = ImageAnalysis(**{**_fields(ANALYSIS), "layers": (_layer(0, *nodes),)})
    root = build_tree(a, 0, aggregated=True)
    assert root.size == 1
    assert apply_filter(root, CHANGES, "leaf") == 3001
    assert len(flatten(root, set(folders(root)))) == 3001


def test_deep_removed_folder_sums_what_it_held() -> None:
    """The removed-size sum walks too: a whiteout of a folder thousands deep must not recurse."""
    deep = "/top/" + "/".join(f"d{n}" for n in range(3000))
    a = ImageAnalysis(
        **{
            **_fields(ANALYSIS),
            "layers": (_layer(0, F(deep + "/leaf", 5)), _layer(1, D("/top", "removed"))),
        }
    )
    root = build_tree(a, 1, aggregated=True)
    top = _find(root, "/top")
    assert top.change == "removed" and top.size == 5
    assert root.size == 0
