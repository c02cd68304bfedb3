""".dockerignore rules, the build-context walk, and content digests for the build cache.

Rules are the docker CLI's (cli/build ReadDockerignore + moby/patternmatcher, as CLI 28 sends a
context to the classic builder):
- a line starting with `#` is a comment; lines are trimmed; empty lines are skipped;
- each pattern is cleaned like Go's filepath.Clean (`./a/` → `a`) and a leading `/` dropped;
- `*` and `?` never cross `/`, `[…]` are classes, `\\` escapes, `**` matches any number of
  directories (also none);
- a pattern also excludes everything under a directory it matches;
- `!pattern` re-includes; the last matching pattern wins;
- a directory that is excluded is still descended into when an exception pattern starts with it
  (`build` + `!build/keep`), but only the re-included entries are sent;
- the Dockerfile and .dockerignore are always *sent* (the CLI appends `!Dockerfile` and
  `!.dockerignore` when a pattern excludes them) so the builder can read them, but COPY/ADD do
  not see them when a pattern excludes them: the daemon deletes them from the received context
  (BuildKit never puts them in). `load(…, sent=True)` gives the CLI's view, the default COPY's.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat as stat_mod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imgtui.backends.base import BuildError

__all__ = [
    "ContextEntry",
    "DockerignoreError",
    "IgnoreMatcher",
    "context_digest",
    "entry_digest",
    "load",
    "read_patterns",
    "walk",
]

_REGEX_SPECIAL = set(".+()|{}$")


class DockerignoreError(BuildError):
    """A pattern docker refuses (`syntax error in pattern`, `illegal exclusion pattern: "!"`)."""


def go_clean(path: str) -> str:
    """Go's path.Clean: no `.`/`..`/`//` left, no trailing slash, "" → "."."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, normalized as docker's ReadAll does."""
    out = []
    for i, raw in enumerate(text.split("\n")):
        line = raw.removeprefix("\ufeff") if i == 0 else raw
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _check_syntax(pattern: str) -> None:
    """What Go's filepath.Match would call ErrBadPattern: a dangling `\\` or an open `[`."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise DockerignoreError("syntax error in pattern")
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                raise DockerignoreError("syntax error in pattern")  # Go has no empty class
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            if j >= n:
                raise DockerignoreError("syntax error in pattern")
            i = j + 1
            continue
        i += 1


def _compile(pattern: str) -> re.Pattern[str]:
    """patternmatcher's translation of one cleaned pattern to a regular expression."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append("\\" + pattern[i])
                i += 1
            else:
                out.append("\\\\")
        else:
            out.append(ch)  # nothing else is special to Go or Python regexps
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str  # cleaned, without "!"
    exclusion: bool
    regex: re.Pattern[str]


class IgnoreMatcher:
    """Decides whether a context path is excluded, as the docker CLI does."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise DockerignoreError('illegal exclusion pattern: "!"')
                p = p[1:]
            _check_syntax(p)
            self.patterns.append(_Pattern(p, exclusion, _compile(p)))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """True when `path` ("a/b", context-relative) is not sent (MatchesOrParentMatches)."""
        path = go_clean(path)
        parent = posixpath.dirname(path)
        parent_dirs = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = bool(pattern.regex.match(path))
            if not hit and parent_dirs:
                hit = any(
                    pattern.regex.match("/".join(parent_dirs[: i + 1]))
                    for i in range(len(parent_dirs))
                )
            if hit:
                matched = not pattern.exclusion
        return matched

    def excluded_below(
        self, path: str, parent: tuple[bool, ...] | None
    ) -> tuple[bool, tuple[bool, ...]]:
        """`excluded` for a walk (docker's MatchesUsingParentResults): O(patterns) per path.

        `parent` is what this returned for the parent directory (None at the top); the second
        value is to be passed for this path's children.
        """
        matched = False
        hits = []
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent is not None else False
            if not hit:
                if pattern.exclusion != matched:
                    hits.append(False)
                    continue
                hit = bool(pattern.regex.match(path))
                if not hit and parent is None and "/" in path:
                    dirs = path.split("/")[:-1]
                    hit = any(
                        pattern.regex.match("/".join(dirs[: j + 1])) for j in range(len(dirs))
                    )
            hits.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(hits)

    def must_descend(self, directory: str) -> bool:
        """An excluded directory is still walked when an exception pattern lies under it."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def load(context: Path, dockerfile: str = "Dockerfile", *, sent: bool = False) -> IgnoreMatcher:
    """The matcher of `context`'s .dockerignore (none: nothing is excluded).

    `sent=False`: what COPY/ADD may use. `sent=True`: what the docker CLI transmits, i.e. with
    the exceptions for the Dockerfile (path relative to the context) and .dockerignore.
    """
    ignore = context / ".dockerignore"
    patterns = read_patterns(ignore.read_text(errors="replace")) if ignore.is_file() else []
    probe = IgnoreMatcher(patterns)
    if not sent:
        return probe
    if probe.excluded(".dockerignore"):
        patterns.append("!.dockerignore")
    dockerfile = go_clean(dockerfile.replace(os.sep, "/"))
    if probe.excluded(dockerfile):
        patterns.append("!" + dockerfile)
    return IgnoreMatcher(patterns)


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One path sent to the builder: relative, `/`-separated, with its lstat."""

    path: str
    stat: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat_mod.S_ISDIR(self.stat.st_mode)


def walk(context: Path, matcher: IgnoreMatcher | None = None) -> Iterator[ContextEntry]:
    """The included entries of `context`, parents before children, names sorted (Go's order).

    Symlinks are reported, never followed. An excluded directory is skipped whole unless an
    exception pattern lies under it; then only its included descendants are yielded.
    """
    yield from _walk(os.fspath(context), "", matcher or IgnoreMatcher([]), None)


def _walk(
    folder: str, rel: str, matcher: IgnoreMatcher, parent: tuple[bool, ...] | None
) -> Iterator[ContextEntry]:
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        hits = None
        if matcher.patterns:
            excluded, hits = matcher.excluded_below(path, parent)
            if excluded:
                if is_dir and matcher.has_exclusions and matcher.must_descend(path):
                    yield from _walk(entry.path, path, matcher, hits)
                continue
        yield ContextEntry(path, st)
        if is_dir:
            yield from _walk(entry.path, path, matcher, hits)


def entry_digest(context: Path, entry: ContextEntry) -> str:
    """sha256 of one entry: path, type and mode, uid, gid, size, link target and content.

    Timestamps are left out (docker's cache ignores them too), so a fresh checkout hits the
    cache. Directory sizes are filesystem-dependent and count as 0.
    """
    st = entry.stat
    full = os.path.join(os.fspath(context), entry.path)
    regular = stat_mod.S_ISREG(st.st_mode)
    link = os.readlink(full) if stat_mod.S_ISLNK(st.st_mode) else ""
    h = hashlib.sha256()
    header = f"{entry.path}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0"
    header += f"{st.st_size if regular else 0}\0{link}\0"
    h.update(header.encode("utf-8", "surrogateescape"))
    if regular:
        with open(full, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def context_digest(context: Path, entries: Iterable[ContextEntry]) -> str:
    """One `sha256:` digest over the entries (in the order given), for COPY/ADD cache keys."""
    h = hashlib.sha256()
    for entry in entries:
        h.update(entry_digest(context, entry).encode())
    return "sha256:" + h.hexdigest()
