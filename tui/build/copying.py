"""COPY and ADD: which files a source names, and writing them into a stage's tree.

Semantics are the classic builder's (engine 20.10 copier): sources are relative to the context
(or to the `--from` stage's root), may hold Go filepath.Match wildcards (`*` never crosses `/`;
a matched directory is taken whole), a top-level symlink is followed inside its root; a directory
source copies its *contents*; a file goes to `dest/name` when dest ends in `/` or is a directory
already, else to `dest`; several sources need a dest ending in `/`. Directories the copy creates
get 0755 and the `--chown` owner, existing ones keep theirs; copied entries keep their mode and
get the `--chown` owner (root without it); hardlinks among the sources stay hardlinks. ADD also
unpacks a local tar archive (plain, gzip, bzip2, xz) into dest and refuses URLs (no network).
`--chmod` (BuildKit's) sets the mode of every copied entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import stat as stat_mod
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imgtui.build.dockerignore import ContextEntry, IgnoreMatcher, entry_digest, go_clean, walk
from imgtui.build.errors import DockerfileError
from imgtui.build.tree import apply_tar, decompressed, resolve_in_root
from imgtui.store.layers import TAR_BUFSIZE

__all__ = [
    "CopyRequest",
    "Source",
    "SourceRoot",
    "copy_sources",
    "is_archive",
    "lookup_owner",
    "parse_chmod",
]

_WILDCARD = re.compile(r"[*?\[]")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^git@")


@dataclass
class Source:
    """One resolved source: a file or a directory inside its root, with what it holds."""

    rel: str  # path inside the root ("" = the root itself), symlinks resolved
    name: str  # base name used for `dest/name`
    stat: os.stat_result
    entries: list[ContextEntry] = field(default_factory=list)  # a directory's contents

    @property
    def is_dir(self) -> bool:
        return stat_mod.S_ISDIR(self.stat.st_mode)


class SourceRoot:
    """Where sources come from: the build context (.dockerignore applied) or a stage's tree.

    `digest_of` gives an entry's content digest; the builder passes one that remembers digests
    by stat across builds, so an unchanged rebuild does not read the context again.
    """

    def __init__(
        self,
        root: Path,
        matcher: IgnoreMatcher | None = None,
        *,
        label: str = "build context",
        digest_of: Callable[[Path, ContextEntry], str] | None = None,
    ) -> None:
        self.root = root
        self.host = os.fspath(root)
        self.label = label
        self.matcher = matcher
        self._entries: list[ContextEntry] | None = None
        self._by_path: dict[str, ContextEntry] | None = None
        self.digest_of = digest_of or entry_digest

    def entries(self) -> list[ContextEntry]:
        """Every included entry, parents first, names sorted (walked once)."""
        if self._entries is None:
            self._entries = list(walk(self.root, self.matcher))
            self._by_path = {e.path: e for e in self._entries}
        return self._entries

    def entry(self, rel: str) -> ContextEntry | None:
        self.entries()
        assert self._by_path is not None
        return self._by_path.get(rel)

    def below(self, rel: str) -> list[ContextEntry]:
        """The included entries under directory `rel`, paths made relative to it."""
        if not rel:
            return list(self.entries())
        prefix = rel + "/"
        return [
            ContextEntry(e.path[len(prefix) :], e.stat)
            for e in self.entries()
            if e.path.startswith(prefix)
        ]

    def resolve(self, written: str, line: int) -> list[Source]:
        """The sources one COPY/ADD argument names (wildcards expanded)."""
        rel = go_clean("/" + written).lstrip("/")
        if _WILDCARD.search(rel):
            regex = _go_match(rel)
            found = []
            skip: str | None = None
            for e in self.entries():
                if skip is not None and e.path.startswith(skip):
                    continue
                if regex.match(e.path):
                    found.append(self._source(e.path, e.stat))
                    skip = e.path + "/" if e.is_dir else None
            return found
        if rel and self.matcher is not None and self.entry(rel) is None:
            self._missing(written, line)
        host = resolve_in_root(self.host, rel) if rel else self.host
        real = os.path.relpath(host, self.host)
        real = "" if real == "." else real
        try:
            st = os.lstat(host)
        except OSError:
            self._missing(written, line)
        if real and self.matcher is not None and self.entry(real) is None:
            self._missing(written, line)
        return [self._source(real, st, name=posixpath.basename(rel) or posixpath.basename(real))]

    def _source(self, rel: str, st: os.stat_result, name: str | None = None) -> Source:
        src = Source(rel, name or posixpath.basename(rel), st)
        if src.is_dir:
            if self.matcher is not None:
                src.entries = self.below(rel)
            else:
                src.entries = list(walk(Path(self.host, rel) if rel else self.root))
        return src

    def _missing(self, written: str, line: int) -> None:
        raise DockerfileError(
            f"COPY failed: file not found in {self.label} or excluded by .dockerignore: "
            f"stat {written}: file does not exist",
            line,
        )

    def source_hash(self, src: Source) -> str:
        """`file:<hex>` or `dir:<hex>` for the history line and the cache key."""
        if not src.is_dir:
            return "file:" + self.digest_of(self.root, ContextEntry(src.rel, src.stat))
        h = hashlib.sha256()
        base = Path(self.host, src.rel) if src.rel else self.root
        for e in src.entries:
            h.update(self.digest_of(base, e).encode())
        return "dir:" + h.hexdigest()


def _go_match(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match as a regular expression (`*` and `?` stop at `/`)."""
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            j = i
            body = []
            if j < n and pattern[j] == "^":
                body.append("^")
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < n:
                    j += 1
                body.append(re.escape(pattern[j]) if pattern[j] != "-" else "-")
                j += 1
            out.append("[" + "".join(body) + "]")
            i = j + 1
        elif ch == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


def is_archive(path: str) -> bool:
    """What ADD unpacks: a (possibly compressed) tar whose first header reads."""
    try:
        with open(path, "rb") as raw:
            stream = decompressed(raw)  # type: ignore[arg-type]
            with tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE) as tar:
                return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return False
    except Exception:
        return False


def parse_chmod(text: str, line: int) -> int:
    """`--chmod=0755` (octal only, as the engine supports)."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise DockerfileError(f"invalid chmod parameter: {text}", line) from None
    if mode > 0o7777:
        raise DockerfileError(f"invalid chmod parameter: {text}", line)
    return mode


def _lookup(path: str, name: str, what: str) -> int:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for raw in f:
                fields = raw.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == name:
                    return int(fields[2])
    except (OSError, ValueError):
        pass
    raise KeyError(what)


def lookup_owner(root: str, chown: str, line: int) -> tuple[int, int]:
    """`--chown=user[:group]` as uid/gid: numbers as they are, names from the tree's files."""
    parts = chown.split(":")
    if len(parts) > 2:
        raise DockerfileError(f"invalid chown string format: {chown}", line)
    user = parts[0]
    group = parts[1] if len(parts) == 2 else parts[0]
    ids = []
    for name, file, what in ((user, "passwd", "uid for user"), (group, "group", "gid for group")):
        if name.isdigit():
            ids.append(int(name))
            continue
        try:
            ids.append(_lookup(resolve_in_root(root, f"etc/{file}"), name, what))
        except KeyError:
            raise DockerfileError(
                f"unable to convert uid/gid chown string to host mapping: "
                f"can't find {what} {name}: no such {'user' if file == 'passwd' else 'group'}",
                line,
            ) from None
    return ids[0], ids[1]


@dataclass
class CopyRequest:
    """One COPY/ADD step, its words already expanded."""

    kind: str  # "COPY" or "ADD"
    sources: list[Source]
    source_root: SourceRoot
    dest: str  # absolute image path; a trailing "/" means "a directory"
    owner: tuple[int, int]
    chmod: int | None
    line: int


class _Writer:
    """Writes into one tree and remembers every image path it wrote."""

    def __init__(self, root: str, owner: tuple[int, int], cancelled: Callable[[], None]) -> None:
        self.root = root
        self.owner = owner
        self.written: list[str] = []
        self.links: dict[tuple[int, int], str] = {}
        self.cancelled = cancelled

    def rel(self, host: str) -> str:
        rel = os.path.relpath(host, self.root)
        return "" if rel == "." else rel

    def mkdirs(self, image_path: str) -> str:
        """mkdir -p inside the tree: new directories 0755 with the owner; the host path."""
        host = resolve_in_root(self.root, image_path)
        missing = []
        probe = host
        while not os.path.lexists(probe) and probe != self.root:
            missing.append(probe)
            probe = os.path.dirname(probe)
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            os.chmod(d, 0o755)
            with contextlib.suppress(OSError):
                os.lchown(d, *self.owner)
            self.written.append(self.rel(d))
        if not os.path.isdir(host):
            raise DockerfileError(f"cannot copy to /{image_path}: it is not a directory")
        return host

    def put(self, src_host: str, st: os.stat_result, dest_host: str, chmod: int | None) -> None:
        """One entry (file, directory, symlink) from the source to `dest_host`."""
        self.cancelled()
        mode = stat_mod.S_IMODE(st.st_mode) if chmod is None else chmod
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        if os.path.lexists(dest_host) and not (
            is_dir and os.path.isdir(dest_host) and not os.path.islink(dest_host)
        ):
            if os.path.isdir(dest_host) and not os.path.islink(dest_host):
                shutil.rmtree(dest_host)
            else:
                os.unlink(dest_host)
        key = (st.st_dev, st.st_ino)
        if is_dir:
            if not os.path.isdir(dest_host):
                os.mkdir(dest_host, 0o700)
        elif stat_mod.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src_host), dest_host)
        elif stat_mod.S_ISREG(st.st_mode):
            if st.st_nlink > 1 and key in self.links:
                os.link(self.links[key], dest_host)
                self.written.append(self.rel(dest_host))
                return
            with open(src_host, "rb") as fsrc, open(dest_host, "wb") as fdst:
                shutil.copyfileobj(fsrc, fdst, 1 << 20)
            if st.st_nlink > 1:
                self.links[key] = dest_host
        else:
            return  # sockets, devices and fifos are not copied from a context
        with contextlib.suppress(OSError):
            os.lchown(dest_host, *self.owner)
        if not stat_mod.S_ISLNK(st.st_mode):
            os.chmod(dest_host, mode)
            with contextlib.suppress(OSError):
                os.utime(dest_host, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.written.append(self.rel(dest_host))


def copy_sources(
    root: str, req: CopyRequest, cancelled: Callable[[], None]
) -> tuple[list[str], list[str]]:
    """Write the request's sources into the tree at `root`.

    Returns (image paths written, hashes of the sources in order). `cancelled()` raises when
    the build was cancelled; it is called for every entry.
    """
    w = _Writer(root, req.owner, cancelled)
    dest = req.dest
    dest_dir = dest.endswith("/")
    if len(req.sources) > 1 and not dest_dir:
        raise DockerfileError(
            f"When using {req.kind} with more than one source file, "
            "the destination must be a directory and end with a /",
            req.line,
        )
    dest_path = dest.strip("/")
    sroot = req.source_root
    for src in req.sources:
        src_host = os.path.join(sroot.host, src.rel) if src.rel else sroot.host
        if src.is_dir:
            host_dest = w.mkdirs(dest_path)
            for e in src.entries:
                target = os.path.join(host_dest, e.path)
                if "/" in e.path and not os.path.isdir(os.path.dirname(target)):
                    # a re-included file of an excluded folder: the folder comes as mkdir -p
                    w.mkdirs(posixpath.join(dest_path, posixpath.dirname(e.path)))
                w.put(os.path.join(src_host, e.path), e.stat, target, req.chmod)
            continue
        if req.kind == "ADD" and is_archive(src_host):
            host_dest = w.mkdirs(dest_path)
            with open(src_host, "rb") as raw:
                owner = req.owner if req.owner != (0, 0) else None
                written = apply_tar(
                    root,
                    decompressed(raw),  # type: ignore[arg-type]
                    f"ADD {src.name}",
                    owner=owner,
                    whiteouts=False,
                    under=w.rel(host_dest),
                )
            w.written.extend(written)
            continue
        host_target = resolve_in_root(root, dest_path) if dest_path else root
        if dest_dir or os.path.isdir(host_target):
            parent = w.mkdirs(dest_path)
            target = os.path.join(parent, src.name)
        else:
            parent = w.mkdirs(posixpath.dirname(dest_path))
            target = os.path.join(parent, posixpath.basename(dest_path))
        st = src.stat
        if stat_mod.S_ISLNK(st.st_mode):  # a named symlink whose target is outside: refuse
            raise DockerfileError(f"{req.kind} failed: cannot follow the link {src.rel}", req.line)
        w.put(src_host, st, target, req.chmod)
    return w.written, [sroot.source_hash(s) for s in req.sources]
