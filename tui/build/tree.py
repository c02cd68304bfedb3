"""A stage's root filesystem on disk, and layers written from the paths a step changed.

The builder keeps one directory per stage under the store's side folder. It is unpacked from the
stage's layers (imgtui.sandbox.rootfs) only when a step misses the cache (a cached rebuild never
unpacks anything); COPY and ADD write into it (ADD's archives through `apply_tar`, which treats
`.wh.` names as plain files, as docker's ADD does). A step's layer is the tar of the paths it
wrote plus their ancestors, which is what the engine's overlay diff holds: a file written into
`/app` makes `app/` an entry of the layer too (copied up), a file at `/` does not. Paths inside
a tree are always resolved the way the engine's FollowSymlinkInScope does: symlinks are
followed, but never out of the root.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import posixpath
import shutil
import stat as stat_mod
import tarfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from imgtui.backends.base import BuildError
from imgtui.sandbox import rootfs
from imgtui.sandbox.rootfs import remove_path
from imgtui.store import oci
from imgtui.store.layers import TAR_BUFSIZE
from imgtui.store.layout import Store

__all__ = [
    "WrittenLayer",
    "ancestors",
    "decompressed",
    "layer_order",
    "remove_path",
    "resolve_in_root",
    "write_layer_tar",
]

_MAX_LINKS = 255
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class WrittenLayer:
    """An uncompressed layer blob in the store (its digest is its diff_id)."""

    digest: str
    size: int
    media_type: str = oci.OCI_LAYER


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path of image path `path`, symlinks followed inside `root` only (chroot-like);
    the sandbox's resolver with the engine's FollowSymlinkInScope bound on links."""
    return rootfs.resolve_in_root(root, path, follow_last=follow_last, max_links=_MAX_LINKS)


def decompressed(raw: IO[bytes]) -> IO[bytes]:
    """`raw` uncompressed: gzip, bzip2, xz and zstd are recognized by their magic bytes."""
    peek = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    if not peek:
        buffered = raw if hasattr(raw, "peek") else _Peekable(raw)
        peek = buffered.peek(6)[:6]
        raw = buffered
    if peek.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if peek.startswith(b"BZh"):
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if peek.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    if peek.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            import zstandard
        except ImportError:
            raise BuildError("a zstd-compressed layer needs the zstandard package") from None
        return zstandard.ZstdDecompressor().stream_reader(raw)  # type: ignore[return-value]
    return raw


class _Peekable:
    """A minimal peek() for readers that lack one."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._head = b""

    def peek(self, n: int) -> bytes:
        while len(self._head) < n:
            chunk = self._raw.read(n - len(self._head))
            if not chunk:
                break
            self._head += chunk
        return self._head

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            if len(data) < n:
                data += self._raw.read(n - len(data))
            return data
        return self._raw.read(n)


def _safe_name(name: str) -> str | None:
    """A member name as an image path, or None when it is the root or climbs out."""
    name = name.removeprefix("./").strip("/")
    if not name or name == ".":
        return None
    parts = name.split("/")
    if ".." in parts:
        return None
    return "/".join(p for p in parts if p not in ("", "."))


def apply_tar(
    root: str,
    stream: IO[bytes],
    where: str,
    *,
    owner: tuple[int, int] | None = None,
    whiteouts: bool = True,
    under: str = "",
) -> list[str]:
    """Extract one tar stream into `root` (an image's tree); returns the image paths written.

    `owner` overrides every entry's uid/gid (ADD --chown); `whiteouts=False` treats `.wh.` names
    as plain files (a user's archive, not a layer); `under` is the image folder to extract into.
    """
    created: set[str] = set()
    written: list[str] = []
    dir_times: list[tuple[str, float]] = []
    try:
        tar = tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE)  # noqa: SIM115
    except tarfile.TarError as e:
        raise BuildError(f"{where}: not a tar archive ({e})") from None
    with tar:
        try:
            for member in tar:
                name = _safe_name(member.name)
                if name is None:
                    continue
                if under:
                    name = f"{under}/{name}"
                parent, base = posixpath.split(name)
                if whiteouts and base == _OPAQUE:
                    host_dir = resolve_in_root(root, parent)
                    if os.path.isdir(host_dir):
                        for child in os.listdir(host_dir):
                            rel = f"{parent}/{child}" if parent else child
                            if rel not in created:
                                remove_path(os.path.join(host_dir, child))
                    continue
                if whiteouts and base.startswith(_WHITEOUT):
                    remove_path(os.path.join(resolve_in_root(root, parent), base[len(_WHITEOUT) :]))
                    continue
                host_parent = resolve_in_root(root, parent)
                os.makedirs(host_parent, exist_ok=True)
                host = os.path.join(host_parent, base)
                _extract(tar, member, root, host, owner, under)
                created.add(name)
                written.append(os.path.relpath(host, root))
                if member.isdir():
                    dir_times.append((host, member.mtime))
        except (tarfile.TarError, EOFError) as e:
            raise BuildError(f"{where}: damaged tar archive ({e})") from None
        except OSError as e:  # also a corrupt gzip/bz2/xz stream
            raise BuildError(f"{where}: {e}") from None
    for host, mtime in reversed(dir_times):
        with contextlib.suppress(OSError):
            os.utime(host, (mtime, mtime), follow_symlinks=False)
    return written


def _extract(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: str,
    host: str,
    owner: tuple[int, int] | None,
    under: str = "",
) -> None:
    exists = os.path.lexists(host)
    if exists and not (member.isdir() and os.path.isdir(host) and not os.path.islink(host)):
        remove_path(host)
    mode = member.mode & 0o7777
    if member.isdir():
        if not os.path.isdir(host):
            os.mkdir(host, 0o700)
    elif member.isreg():
        src = tar.extractfile(member)
        assert src is not None
        with open(host, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, host)
    elif member.islnk():
        target_name = _safe_name(member.linkname)
        if target_name is None:
            raise BuildError(f"hardlink {member.name} points outside the tree")
        if under:
            target_name = f"{under}/{target_name}"
        target = resolve_in_root(root, target_name, follow_last=False)
        if not os.path.lexists(target):
            raise BuildError(f"hardlink {member.name} points to missing {member.linkname}")
        os.link(target, host, follow_symlinks=False)
        return
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = (
            stat_mod.S_IFCHR
            if member.ischr()
            else stat_mod.S_IFBLK
            if member.isblk()
            else stat_mod.S_IFIFO
        )
        try:
            os.mknod(host, kind | mode, os.makedev(member.devmajor, member.devminor))
        except PermissionError:
            return  # devices need root; the layer keeps them, this working tree cannot
    else:
        return
    uid, gid = owner if owner is not None else (member.uid, member.gid)
    with contextlib.suppress(OSError):
        os.lchown(host, uid, gid)
    if not member.issym():
        os.chmod(host, mode)
        with contextlib.suppress(OSError):
            os.utime(host, (member.mtime, member.mtime))


def ancestors(path: str) -> list[str]:
    """`a/b/c` → [`a`, `a/b`]."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def layer_order(paths: Iterable[str]) -> list[str]:
    """Paths with their ancestors, parents first and names sorted (the engine's walk order)."""
    wanted: set[str] = set()
    for p in paths:
        if not p or p == ".":
            continue
        wanted.add(p)
        wanted.update(ancestors(p))
    return sorted(wanted, key=lambda p: p.split("/"))


class _EngineTarInfo(tarfile.TarInfo):
    """A header whose mode field carries the file-type bits (0o100644), as the engine writes.

    Python's tarfile keeps only the permission bits; Go's archive/tar as docker uses it adds the
    type (`c_ISREG`, `c_ISDIR`, …), and tools comparing layers see the difference.
    """

    type_bits = 0

    def tobuf(self, *args: object, **kwargs: object) -> bytes:  # type: ignore[override]
        buf = bytearray(super().tobuf(*args, **kwargs))  # type: ignore[arg-type]
        if self.type_bits:
            header = len(buf) - tarfile.BLOCKSIZE  # the real header follows any PAX headers
            mode = (self.mode & 0o7777) | self.type_bits
            buf[header + 100 : header + 108] = b"%07o\0" % mode
            buf[header + 148 : header + 156] = b" " * 8
            checksum = sum(buf[header : header + tarfile.BLOCKSIZE])
            buf[header + 148 : header + 156] = b"%06o\0 " % checksum
        return bytes(buf)


_TYPE_BITS = {
    tarfile.REGTYPE: stat_mod.S_IFREG,
    tarfile.AREGTYPE: stat_mod.S_IFREG,
    tarfile.LNKTYPE: stat_mod.S_IFREG,
    tarfile.DIRTYPE: stat_mod.S_IFDIR,
    tarfile.SYMTYPE: stat_mod.S_IFLNK,
    tarfile.CHRTYPE: stat_mod.S_IFCHR,
    tarfile.BLKTYPE: stat_mod.S_IFBLK,
    tarfile.FIFOTYPE: stat_mod.S_IFIFO,
}


def write_layer_tar(
    store: Store,
    root: str,
    paths: Sequence[str],
    *,
    whiteouts: Sequence[str] = (),
    opaque: Mapping[str, int] | None = None,
) -> WrittenLayer | None:
    """The tar of `paths` (image paths, in order) read from `root`, as an uncompressed blob.

    Hardlinked files inside the layer become one file and links to it (first in order wins),
    as the engine's tar writer does. `whiteouts` are deleted paths (`.wh.name`, mode 0600),
    `opaque` folders that replaced a folder (`.wh..wh..opq` with the folder's permissions), as
    the engine's overlay differ writes them. None when there is nothing to write.
    """
    marks: dict[str, int] = {}
    for gone in whiteouts:
        head, base = posixpath.split(gone)
        marks[posixpath.join(head, _WHITEOUT + base)] = 0o600
    for folder, mode in (opaque or {}).items():
        marks[posixpath.join(folder, _OPAQUE)] = mode & 0o777
    if marks:
        real = set(paths) | {a for m in marks for a in ancestors(m)}
        paths = sorted(real | set(marks), key=lambda p: p.split("/"))
    if not paths:
        return None
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb", buffering=1 << 20) as out,
                tarfile.open(
                    fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, tarinfo=_EngineTarInfo
                ) as tar,
            ):
                for rel in paths:
                    if rel in marks:
                        mark = tarfile.TarInfo(rel)
                        mark.mode = marks[rel]
                        tar.addfile(mark)
                        continue
                    host = os.path.join(root, rel)
                    info = tar.gettarinfo(host, arcname=rel)
                    info.uname = info.gname = ""
                    info.mtime = int(info.mtime)
                    info.type_bits = _TYPE_BITS.get(info.type, 0)  # type: ignore[attr-defined]
                    if info.isreg():
                        with open(host, "rb") as f:
                            tar.addfile(info, f)
                    else:
                        tar.addfile(info)
        except BaseException as e:
            failure.append(e)

    producer = threading.Thread(target=produce, name="layer-tar", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as source:
            digest, size = store.write_blob(source)
    finally:
        producer.join()
    if failure:
        e = failure[0]
        if isinstance(e, BuildError):
            raise e
        raise BuildError(f"could not write the layer: {e}") from e
    return WrittenLayer(digest, size)
