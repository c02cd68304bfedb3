"""An image's root filesystem on disk: unpacked safely, watched for changes, turned into layers.

Unpacking resolves every path inside the root as the container will see it (an absolute symlink
points into the root, `..` stops at it), so no layer — hostile or just odd — writes outside. As
root, owners, modes and device nodes are kept, as docker keeps them.

Changes are found the way docker's naive differ finds them: an lstat snapshot before and after
(type, mode, owner, size, mtime, link target, inode), deletions become whiteouts. The folders the
sandbox made only to mount /proc and /dev on are left out of every layer, as docker's init layer
is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from imgtui.sandbox import SandboxError
from imgtui.store import oci
from imgtui.store.layers import TAR_BUFSIZE, check_member, open_layer
from imgtui.store.layout import Store

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_LINKS = 40  # symlinks followed while resolving one path, as Linux's limit
CHUNK = 1 << 20
MOUNTS_FILE = "imgtui-mounts.json"  # beside the rootfs: mount points the sandbox created


@dataclass(frozen=True, slots=True)
class Entry:
    """What the differ compares of one path."""

    kind: str  # "f", "d", "l", "c", "b", "p", "s"
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    link: str
    ino: int


Snapshot = dict[str, Entry]  # image path ("/etc/passwd") -> its facts


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """A layer written into the store, uncompressed: its digest is also its diff_id."""

    digest: str
    size: int
    media_type: str = oci.OCI_LAYER


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "f"
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISLNK(mode):
        return "l"
    if stat.S_ISCHR(mode):
        return "c"
    if stat.S_ISBLK(mode):
        return "b"
    if stat.S_ISFIFO(mode):
        return "p"
    return "s"


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve_in_root(
    root: str, image_path: str, *, follow_last: bool = True, max_links: int = MAX_LINKS
) -> str:
    """The host path of `image_path` under `root`, symlinks followed inside `root` only.

    Chroot semantics (an absolute target starts again at `root`, `..` stops at it), so no path
    a layer or a Dockerfile names can reach outside. Missing components are joined as written:
    callers create them.
    """
    todo = _parts(image_path)
    todo.reverse()
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(root, *done, part)
        if (todo or follow_last) and os.path.islink(host):
            links += 1
            if links > max_links:
                raise SandboxError(f"/{image_path.lstrip('/')}: too many levels of symbolic links")
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            todo.extend(reversed(_parts(target)))
            continue
        done.append(part)
    return os.path.join(root, *done)


def remove_path(host: str | Path) -> None:
    """Remove a file, link or whole folder, if there is one."""
    if os.path.isdir(host) and not os.path.islink(host):
        shutil.rmtree(host)
    elif os.path.lexists(host):
        os.unlink(host)


class RootFS:
    """A folder that is an image's `/`; every path given to it is an image path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ making one

    @classmethod
    def unpack(cls, store: Store, layer_digests: Sequence[str], path: Path) -> RootFS:
        """The layers (store blobs, any compression) applied in order to a new folder."""
        root = cls(path)
        if root.path.exists():
            raise SandboxError(f"{root.path} exists already: not unpacking over it")
        root.path.mkdir(parents=True, mode=0o755)
        try:
            for digest in layer_digests:
                with open_layer(store, digest) as stream:
                    root.apply(stream, where=f"layer {digest}")
        except BaseException:
            root.remove()
            raise
        return root

    def remove(self) -> None:
        """Delete the tree, including read-only folders a command left behind."""
        if not self.path.exists():
            return

        def onerror(func, p, _exc):  # type: ignore[no-untyped-def]
            with contextlib.suppress(OSError):
                os.chmod(os.path.dirname(p), 0o700)
                os.chmod(p, 0o700)
                func(p)

        shutil.rmtree(self.path, onerror=onerror)
        with contextlib.suppress(FileNotFoundError):
            self._mounts_file().unlink()

    # ------------------------------------------------------------------ paths

    def resolve(self, image_path: str, *, follow_last: bool = True) -> Path:
        """The host path of `image_path`, with symlinks resolved inside the root."""
        return Path(resolve_in_root(str(self.path), image_path, follow_last=follow_last))

    # ------------------------------------------------------------------ applying a layer

    def apply(self, stream: IO[bytes], *, where: str = "layer") -> None:
        """Unpack one uncompressed layer tar over the root, whiteouts honoured."""
        written: set[str] = set()
        dir_times: list[tuple[Path, int]] = []
        try:
            tar = tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE)  # noqa: SIM115
        except tarfile.TarError as e:
            raise SandboxError(f"{where}: not a tar archive ({e})") from None
        with tar:
            try:
                for member in tar:
                    self._apply_member(tar, member, written, dir_times, where)
            except tarfile.TarError as e:
                raise SandboxError(f"{where}: broken tar ({e})") from None
            except oci.FormatError as e:
                raise SandboxError(str(e)) from None
        # Folder times last: writing into a folder moves its mtime.
        for path, mtime in reversed(dir_times):
            with contextlib.suppress(OSError):
                os.utime(path, (mtime, mtime), follow_symlinks=False)

    def _apply_member(
        self,
        tar: tarfile.TarFile,
        m: tarfile.TarInfo,
        written: set[str],
        dir_times: list[tuple[Path, int]],
        where: str,
    ) -> None:
        check_member(m, where)
        parts = _parts(m.name)
        if not parts:
            return  # "./": the root itself keeps its own facts
        rel = "/" + "/".join(parts)
        base = parts[-1]
        parent_path = "/" + "/".join(parts[:-1])
        parent = self.resolve(parent_path)
        if base == OPAQUE:
            self._make_dirs(parent_path)
            for child in list(parent.iterdir()) if parent.is_dir() else ():
                if f"{parent_path.rstrip('/')}/{child.name}" not in written:
                    remove_path(child)
            return
        if base.startswith(WHITEOUT):
            target = parent / base[len(WHITEOUT) :]
            if os.path.lexists(target):
                remove_path(target)
            return
        written.add(rel)
        self._make_dirs(parent_path)
        target = parent / base
        if m.isdir():
            if (os.path.lexists(target) and not target.is_dir()) or target.is_symlink():
                remove_path(target)
            target.mkdir(exist_ok=True)
            self._own(target, m)
            dir_times.append((target, int(m.mtime)))
            return
        if os.path.lexists(target):
            remove_path(target)
        if m.issym():
            os.symlink(m.linkname, target)
        elif m.islnk():
            source = self.resolve(m.linkname, follow_last=False)
            if not os.path.lexists(source) or (os.path.isdir(source) and not source.is_symlink()):
                raise SandboxError(f"{where}: hard link {m.name!r} to missing {m.linkname!r}")
            os.link(source, target, follow_symlinks=False)
            return  # shares the inode: owner and mode are the source's
        elif m.isreg():
            src = tar.extractfile(m)
            assert src is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            try:
                os.mknod(target, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            except PermissionError:
                return  # rootless: no device nodes, as rootless docker has none either
        else:
            raise SandboxError(f"{where}: entry {m.name!r} has an unknown type")
        self._own(target, m)
        with contextlib.suppress(OSError):
            os.utime(target, (int(m.mtime), int(m.mtime)), follow_symlinks=False)

    def _make_dirs(self, image_dir: str) -> None:
        """Folders a tar names only implicitly (no entry of their own): 0755, root."""
        host = self.resolve(image_dir)
        if not host.is_dir():
            if os.path.lexists(host):
                remove_path(host)
            host.mkdir(parents=True, mode=0o755, exist_ok=True)

    def _own(self, target: Path, m: tarfile.TarInfo) -> None:
        with contextlib.suppress(PermissionError):
            os.lchown(target, m.uid, m.gid)
        if not m.issym():
            os.chmod(target, m.mode & 0o7777)

    # ------------------------------------------------------------------ mount points

    def _mounts_file(self) -> Path:
        return self.path.parent / f"{self.path.name}.{MOUNTS_FILE}"

    def mount_points(self) -> set[str]:
        """Image paths of the folders the sandbox made to mount on: never part of a layer."""
        try:
            return set(json.loads(self._mounts_file().read_text()))
        except (OSError, ValueError):
            return set()

    def ensure_mount_points(self, paths: Sequence[str]) -> None:
        made = self.mount_points()
        for p in paths:
            host = self.resolve(p)
            if not os.path.lexists(host):
                host.mkdir(parents=True, mode=0o755)
                made.add("/" + "/".join(_parts(p)))
        self._mounts_file().write_text(json.dumps(sorted(made)))

    # ------------------------------------------------------------------ changes

    def snapshot(self) -> Snapshot:
        """lstat facts of every path, for write_layer to compare against later."""
        snap: Snapshot = {}
        stack = [(str(self.path), "")]
        while stack:
            host, image = stack.pop()
            try:
                entries = list(os.scandir(host))
            except OSError as e:
                raise SandboxError(f"cannot read {image or '/'}: {e.strerror}") from None
            for e in entries:
                st = e.stat(follow_symlinks=False)
                path = f"{image}/{e.name}"
                kind = _kind(st.st_mode)
                snap[path] = Entry(
                    kind,
                    stat.S_IMODE(st.st_mode),
                    st.st_uid,
                    st.st_gid,
                    st.st_size if kind == "f" else 0,
                    st.st_mtime_ns,
                    os.readlink(e.path) if kind == "l" else "",
                    st.st_ino,
                )
                if kind == "d":
                    stack.append((e.path, path))
        return snap


def changes(
    before: Snapshot, after: Snapshot, skip: set[str] | frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """(changed or added paths, deleted paths), sorted; a deleted folder hides its contents."""

    def skipped(path: str) -> bool:
        return any(path == s or path.startswith(s + "/") for s in skip)

    changed = [p for p, e in after.items() if before.get(p) != e and not skipped(p)]
    gone = sorted(p for p in before if p not in after and not skipped(p))
    deleted: list[str] = []
    for p in gone:
        if deleted and p.startswith(deleted[-1] + "/"):
            continue  # inside a folder that went as a whole
        deleted.append(p)
    return sorted(changed), deleted


class _HashingFile:
    """Writes through to a file while hashing: the layer's digest without a second read."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)


def write_layer(root: RootFS, before: Snapshot, store: Store) -> LayerBlob | None:
    """What changed since `before`, as an uncompressed tar blob in the store; None if nothing."""
    after = root.snapshot()
    changed, deleted = changes(before, after, root.mount_points())
    if not changed and not deleted:
        return None
    fd, tmp = tempfile.mkstemp(dir=store.tmp, prefix="layer-")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as raw:
            out = _HashingFile(raw)
            _write_tar(root, out, changed, deleted)
            raw.flush()
            os.fsync(raw.fileno())
        digest = "sha256:" + out.h.hexdigest()
        with open(tmp, "rb") as f:
            store.write_blob(f, expected_digest=digest, expected_size=out.size, where="layer")
        return LayerBlob(digest, out.size)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_tar(root: RootFS, out: _HashingFile, changed: list[str], deleted: list[str]) -> None:
    items = [(p, False) for p in changed] + [(p, True) for p in deleted]
    items.sort(key=lambda item: _parts(item[0]))
    seen: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[arg-type]
        for path, is_whiteout in items:
            name = path.lstrip("/")
            if is_whiteout:
                head, _, base = name.rpartition("/")
                info = tarfile.TarInfo(f"{head}/{WHITEOUT}{base}" if head else WHITEOUT + base)
                info.mode = 0
                tar.addfile(info)
                continue
            host = root.path / name  # the snapshot walked real folders: no symlink on the way
            st = os.lstat(host)
            info = tarfile.TarInfo(name)
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
            info.mtime = int(st.st_mtime)
            kind = _kind(st.st_mode)
            if kind == "d":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(host)
                tar.addfile(info)
            elif kind == "f":
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen:
                    info.type = tarfile.LNKTYPE
                    info.linkname = seen[key]
                    tar.addfile(info)
                    continue
                seen[key] = name
                info.size = st.st_size
                with open(host, "rb") as f:
                    tar.addfile(info, f)
            elif kind in ("c", "b"):
                info.type = tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                tar.addfile(info)
            elif kind == "p":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
            # sockets are not kept in layers, as docker skips them
