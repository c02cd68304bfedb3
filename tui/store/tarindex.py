"""The members of an image archive by name, with the checks every archive gets.

One set of rules for both readers of `docker save` / OCI archives: the store's loader (which
walks members with tarfile) and the analysis (which reads the headers itself, to stay small).
Only files, folders and symlinks between files; names unique, relative and inside the archive;
symlinks (docker's layer reuse) resolved to the file they name, inside the archive, in a bounded
number of hops. Standard library only, and not even `typing`: `imgtui analyze` imports this on
its lean path.

Also here, for the same two readers: the compression magic of layers and archives, and
`Prefixed`, the stream with its sniffed first bytes put back.

The error type is the caller's (the store's FormatError, the analysis's AnalysisError), so a
message reads the same whichever path found the problem.
"""

from __future__ import annotations

MAX_MEMBERS = 100_000  # an image archive has a few per layer; more is a bomb, not an image
MAX_LINK_HOPS = 8

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

# Member kinds, as tar's type flags say them (see `kind_of_flag`).
FILE, FOLDER, SYMLINK = "file", "folder", "symlink"
HARDLINK, DEVICE, FIFO = "hardlink", "device", "fifo"

_FLAG_KINDS = {
    b"0": FILE,
    b"\x00": FILE,
    b"7": FILE,  # contiguous file: a plain file to every reader
    b"5": FOLDER,
    b"2": SYMLINK,
    b"1": HARDLINK,
    b"3": DEVICE,
    b"4": DEVICE,
    b"6": FIFO,
}


def kind_of_flag(flag: bytes) -> str:
    """A tar type flag as a member kind; unknown flags come back as themselves, decoded."""
    return _FLAG_KINDS.get(flag, flag.decode("latin-1"))


class MemberIndex:
    """Add members in archive order, then `finish()`; `files` maps names to the caller's entries."""

    def __init__(self, label: str, error: type[Exception], max_members: int = MAX_MEMBERS) -> None:
        self.label = label
        self.error = error
        self.max_members = max_members
        self.files: dict[str, Any] = {}  # name -> the caller's entry (TarInfo, an offset pair)
        self.links: dict[str, str] = {}  # symlink name -> the regular file it names
        self.last = ""  # the last member's name, for messages about what follows it
        self._symlinks: dict[str, str] = {}  # symlink name -> its target as written
        self._seen: set[str] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, name: str, kind: str, entry: Any = None, link: str = "") -> str:
        """Check one member and record it; returns its normalized name."""
        label = self.label
        if len(self._seen) >= self.max_members:
            raise self.error(f"{label}: more than {self.max_members} members")
        name = self.member_name(name)
        if name in self._seen:
            raise self.error(f"{label}: member {name!r} appears twice")
        self._seen.add(name)
        self.last = name
        if kind == FILE:
            self.files[name] = entry
        elif kind == SYMLINK:
            self._symlinks[name] = link
        elif kind == HARDLINK:
            raise self.error(
                f"{label}: member {name!r} is a hard link; "
                "an image archive holds only files, folders and links between its files"
            )
        elif kind == DEVICE:
            raise self.error(f"{label}: member {name!r} is a device node")
        elif kind == FIFO:
            raise self.error(f"{label}: member {name!r} is a named pipe")
        elif kind != FOLDER:
            raise self.error(f"{label}: member {name!r} has unknown type {kind!r}")
        return name

    def finish(self) -> None:
        """Resolve every symlink member to the file it names (after the last member)."""
        for name, target in self._symlinks.items():
            self.links[name] = self._follow(name, target)

    def member_name(self, name: str) -> str:
        if name.startswith("/"):
            raise self.error(f"{self.label}: member {name!r} has an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.error(f"{self.label}: member {name!r} climbs out of the archive")
        return "/".join(parts)

    def _follow(self, name: str, target: str) -> str:
        """The regular file a symlink member names, inside the archive (docker's layer reuse)."""
        label = self.label
        current, link = name, target
        for _ in range(MAX_LINK_HOPS):
            if link.startswith("/"):
                raise self.error(
                    f"{label}: member {name!r} is a symbolic link to the absolute path {link!r}"
                )
            parts = current.split("/")[:-1]
            for p in link.split("/"):
                if p in ("", "."):
                    continue
                if p == "..":
                    if not parts:
                        raise self.error(
                            f"{label}: member {name!r} is a symbolic link to {target!r}, "
                            "which climbs out of the archive"
                        )
                    parts.pop()
                else:
                    parts.append(p)
            current = "/".join(parts)
            if current in self.files:
                return current
            if current not in self._symlinks:
                raise self.error(
                    f"{label}: member {name!r} is a symbolic link to {target!r}, "
                    "which is not a file in the archive"
                )
            link = self._symlinks[current]
        raise self.error(f"{label}: member {name!r} is a chain of more than {MAX_LINK_HOPS} links")

    def has(self, name: str) -> bool:
        return name in self.files or name in self.links

    def resolve(self, ref: Any, where: str) -> tuple[str, list[str]]:
        """A path named by manifest.json or a digest: the file holding it, and the names used."""
        label = self.label
        if not isinstance(ref, str) or not ref:
            raise self.error(f"{label}: {where}: path {ref!r} is not a string")
        if ref.startswith("/"):
            raise self.error(f"{label}: {where}: path {ref!r} is absolute")
        parts = [p for p in ref.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.error(f"{label}: {where}: path {ref!r} climbs out of the archive")
        name = "/".join(parts)
        if name in self.files:
            return name, [name]
        if name in self.links:
            return self.links[name], [name, self.links[name]]
        raise self.error(f"{label}: {where} refers to {ref!r}, which is not in the archive")


def layer_compression(head: bytes) -> str:
    """'gzip', 'zstd' or 'tar' from a layer blob's first bytes."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "tar"


def outer_compression(head: bytes) -> str:
    """What a whole archive file is compressed with: a layer's kinds plus bzip2 and xz."""
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return layer_compression(head)


class Prefixed:
    """A stream with the bytes sniffed from its start (magic numbers) put back in front."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.rest.read(), b""
                return bytes(data)
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.rest.read(n - len(data))
            return bytes(data)
        return bytes(self.rest.read(n))

    def readinto(self, buffer: memoryview) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        readinto = getattr(self.rest, "readinto", None)
        if readinto is not None:
            return int(readinto(buffer))
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
