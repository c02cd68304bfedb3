""".dockerignore matching, the context walk and content digests.

The engine check of the same rules is corpus case 11 (test_corpus.py): what `COPY . /ctx/`
copies on the real engine must be exactly what `walk` yields.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgtui.build.dockerignore import (
    DockerignoreError,
    IgnoreMatcher,
    context_digest,
    entry_digest,
    load,
    read_patterns,
    walk,
)


def test_read_patterns_cleans_like_docker():
    text = "\ufeff# comment\n\n  *.log  \n/abs/path/\n./rel/../other\n!  keep.log\n #not comment\n"
    assert read_patterns(text) == ["*.log", "abs/path", "other", "!keep.log", "#not comment"]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "dir/a.log", False),  # * never crosses /
        (["*/*.log"], "dir/a.log", True),
        (["**/*.log"], "a/b/c.log", True),
        (["**/*.log"], "c.log", True),  # ** also matches no directory
        (["a/**/b"], "a/b", True),
        (["a/**/b"], "a/x/y/b", True),
        (["a/**"], "a/x/y", True),
        (["dir"], "dir/deep/file", True),  # a matched directory takes its contents
        (["dir/"], "dir/file", True),
        (["di?"], "dir", True),
        (["di?"], "di/x", False),
        (["[a-c]x"], "bx", True),
        (["[^a]x"], "ax", False),
        (["[^a]x"], "bx", True),
        (["\\*x"], "*x", True),
        (["\\*x"], "ax", False),
        (["a.b"], "axb", False),  # regex specials are literal
        (["(x)"], "(x)", True),
        (["*.log", "!keep.log"], "keep.log", False),
        (["!keep.log", "*.log"], "keep.log", True),  # the last match wins
        (["build", "!build/keep"], "build/keep/f", False),
        (["build", "!build/keep"], "build/other", True),
        (["build", "!build/keep", "build/keep/x"], "build/keep/x", True),
        (["/rooted"], "rooted", True),
        (["./dotted"], "dotted", True),
        (["a/../b"], "b", True),
    ],
)
def test_matching(patterns: list[str], path: str, excluded: bool):
    patterns = read_patterns("\n".join(patterns))
    assert IgnoreMatcher(patterns).excluded(path) is excluded


@pytest.mark.parametrize("pattern", ["[", "a[b", "x\\", "[]"])
def test_bad_patterns(pattern: str):
    with pytest.raises(DockerignoreError, match="syntax error in pattern"):
        IgnoreMatcher([pattern])


def test_lone_exclamation_is_refused():
    with pytest.raises(DockerignoreError, match='illegal exclusion pattern: "!"'):
        IgnoreMatcher(["!"])


segment = st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True).filter(lambda s: s not in (".", ".."))
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)


@given(paths, st.lists(segment, max_size=3))
def test_literal_pattern_excludes_path_and_below(path: str, below: list[str]):
    m = IgnoreMatcher([path])
    assert m.excluded(path)
    assert m.excluded("/".join([path, *below]))


@given(paths)
def test_exception_after_exclusion_reincludes(path: str):
    assert not IgnoreMatcher([path, "!" + path]).excluded(path)
    assert IgnoreMatcher(["!" + path, path]).excluded(path)


@given(segment, segment)
def test_star_stays_in_one_directory(directory: str, name: str):
    m = IgnoreMatcher(["*.txt"])
    assert m.excluded(f"{name}.txt")
    assert not m.excluded(f"{directory}/{name}.txt")
    assert IgnoreMatcher([f"**/{name}.txt"]).excluded(f"{directory}/x/{name}.txt")


# ------------------------------------------------------------------------------- walk


def _tree(root: Path) -> Path:
    for rel, text in {
        "b.txt": "b",
        "a.log": "a",
        "keep.log": "k",
        "Dockerfile": "FROM scratch",
        "build/out.o": "o",
        "build/keep/x": "x",
        "sub/z": "z",
        "sub/y": "y",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "empty").mkdir()
    os.symlink("sub", root / "link-to-dir")
    os.symlink("missing", root / "dangling")
    return root


def test_walk_order_and_symlinks(tmp_path: Path):
    root = _tree(tmp_path)
    got = [e.path for e in walk(root)]
    assert got == [
        "Dockerfile", "a.log", "b.txt", "build", "build/keep", "build/keep/x", "build/out.o",
        "dangling", "empty", "keep.log", "link-to-dir", "sub", "sub/y", "sub/z",
    ]  # fmt: skip
    link = next(e for e in walk(root) if e.path == "link-to-dir")
    assert not link.is_dir  # lstat: the link itself, never followed


def test_walk_with_dockerignore(tmp_path: Path):
    root = _tree(tmp_path)
    (root / ".dockerignore").write_text("*.log\n!keep.log\nbuild\n!build/keep\nsub/y\nDockerfile\n")
    got = [e.path for e in walk(root, load(root))]
    assert got == [
        ".dockerignore", "b.txt", "build/keep", "build/keep/x", "dangling", "empty",
        "keep.log", "link-to-dir", "sub", "sub/z",
    ]  # fmt: skip
    sent = {e.path for e in walk(root, load(root, sent=True))}
    assert {"Dockerfile", ".dockerignore"} <= sent


def test_walk_skips_excluded_dirs_without_exceptions(tmp_path: Path):
    root = _tree(tmp_path)
    (root / "build").chmod(0)  # never opened: an unreadable excluded dir is no error
    try:
        assert "build" not in {e.path.split("/")[0] for e in walk(root, IgnoreMatcher(["build"]))}
    finally:
        (root / "build").chmod(0o755)


def test_walk_without_dockerignore_is_everything(tmp_path: Path):
    root = _tree(tmp_path)
    expected = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            expected.add(os.path.relpath(os.path.join(folder, name), root))
    assert {e.path for e in walk(root, load(root))} == expected


# ------------------------------------------------------------------------------- digests


def _digest_of(root: Path, path: str) -> str:
    return entry_digest(root, next(e for e in walk(root) if e.path == path))


def test_digest_follows_content_mode_owner_and_link_not_time(tmp_path: Path):
    root = _tree(tmp_path)
    before = _digest_of(root, "b.txt")
    os.utime(root / "b.txt", (1, 1))
    assert _digest_of(root, "b.txt") == before  # timestamps do not count
    (root / "b.txt").write_text("B")
    changed = _digest_of(root, "b.txt")
    assert changed != before
    (root / "b.txt").chmod(0o600)
    assert _digest_of(root, "b.txt") != changed
    owned = _digest_of(root, "sub/y")
    os.chown(root / "sub/y", 1, 1)
    assert _digest_of(root, "sub/y") != owned
    link = _digest_of(root, "dangling")
    os.unlink(root / "dangling")
    os.symlink("elsewhere", root / "dangling")
    assert _digest_of(root, "dangling") != link


def test_context_digest(tmp_path: Path):
    root = _tree(tmp_path)
    first = context_digest(root, walk(root))
    assert first.startswith("sha256:") and len(first) == 71
    assert context_digest(root, walk(root)) == first
    (root / "sub/z").write_text("zz")
    assert context_digest(root, walk(root)) != first
    assert context_digest(root, walk(root, IgnoreMatcher(["sub"]))) != first


pattern_parts = st.sampled_from(["a", "b", "sub", "*", "**", "?", "*.txt", "x*", "[ab]"])
patterns = st.lists(st.lists(pattern_parts, min_size=1, max_size=3).map("/".join), max_size=4)


@pytest.fixture(scope="module")
def fixed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ignore-tree")
    for rel in ["a/b/c.txt", "a/x1", "b/sub/a.txt", "sub/b/x.txt", "c.txt", "xa/b", "ab/sub/q"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


@given(pats=patterns)
def test_walk_agrees_with_the_matcher(fixed_tree: Path, pats: list[str]):
    """Without exceptions, the walk yields exactly the paths the matcher keeps."""
    m = IgnoreMatcher(pats)
    every = [e.path for e in walk(fixed_tree)]
    assert [e.path for e in walk(fixed_tree, m)] == [p for p in every if not m.excluded(p)]
