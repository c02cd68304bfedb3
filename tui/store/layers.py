"""Layer blobs: decompression, their uncompressed digest (diff_id) and docker-like sizes.

Every figure about a layer comes from one streaming pass over its tar, done once when the layer
enters the store and cached in the side folder by blob digest (blobs never change, so the cache
never goes stale; if it is dropped it is rebuilt on demand). Sizes are counted the way docker's
classic store counts a layer's diff: file contents plus symlink targets, so imgtui's SIZE column
reads like `docker images`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from imgtui.store import oci, tarindex
from imgtui.store.layout import Store
from imgtui.store.oci import FormatError

# A layer may expand to at most this many times its compressed size, and this much in all:
# more is taken as a decompression bomb.
MAX_RATIO = 1000
MAX_UNCOMPRESSED = 64 << 30
# tarfile's stream mode ("r|") reads its source in pieces of `bufsize`, 10 KiB by default: a
# 1 GB layer took 100,000 reads (and as many hash updates) and 4.5 s to scan. 1 MiB pieces.
TAR_BUFSIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class LayerInfo:
    digest: str  # the blob as stored (compressed or not)
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # docker-like content size
    compression: str  # gzip, zstd or tar
    entries: int


class _Counting:
    """A read-only stream wrapper that hashes and counts what passes through."""

    def __init__(self, raw: IO[bytes], limit: int, *, hashing: bool = True) -> None:
        self.raw = raw
        self.hash = hashlib.sha256() if hashing else None
        self.count = 0
        self.limit = limit

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        if self.count > self.limit:
            raise FormatError(
                f"layer expands to more than {self.limit} bytes (decompression bomb?)"
            )
        if self.hash is not None:
            self.hash.update(data)
        return data


def decompressed(stream: IO[bytes], compression: str) -> IO[bytes]:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        try:
            import zstandard
        except ImportError:
            raise FormatError(
                "zstd-compressed layer, but the zstandard package is missing"
            ) from None
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    return stream


@contextlib.contextmanager
def open_layer(store: Store, digest: str) -> Iterator[IO[bytes]]:
    """The uncompressed tar stream of a layer blob."""
    with store.open_blob(digest) as f:
        head = f.read(4)
        f.seek(0)
        yield decompressed(f, oci.layer_compression(head))


def scan_layer(
    stream: IO[bytes],
    compressed_size: int,
    where: str,
    digest: str | None = None,
    *,
    plain_hashed_by_caller: bool = False,
) -> LayerInfo:
    """One pass over a layer: diff_id, content size, entry count; refuses hostile tars.

    An uncompressed layer's diff_id is its digest, so its bytes need not be hashed twice:
    `digest` is the stream's sha256 when the caller knows it (a stored, verified blob), and
    with `plain_hashed_by_caller` the caller hashes the stream itself (load, which stores the
    blob while this scans it) and fills in the diff_id, left empty here, from that digest.
    """
    head = stream.read(4)
    compression = oci.layer_compression(head)
    raw = tarindex.Prefixed(head, stream)
    limit = min(MAX_UNCOMPRESSED, max(compressed_size, 1 << 20) * MAX_RATIO)
    plain_known = compression == "tar" and (digest is not None or plain_hashed_by_caller)
    known = (digest or "") if plain_known else None
    plain = decompressed(raw, compression)  # type: ignore[arg-type]
    counting = _Counting(plain, limit, hashing=known is None)
    size = 0
    entries = 0
    try:
        with tarfile.open(fileobj=counting, mode="r|", bufsize=TAR_BUFSIZE) as tar:  # type: ignore[call-overload]
            for member in tar:
                entries += 1
                check_member(member, where)
                if member.isreg():
                    size += member.size
                elif member.issym():
                    size += len(member.linkname.encode())
        while counting.read(1 << 20):  # tar's zero padding after the end marker
            pass
    except (tarfile.TarError, EOFError, OSError, ValueError, *_codec_errors(compression)) as e:
        if isinstance(e, FormatError):
            raise
        raise FormatError(f"{where}: not a valid layer tar ({e})") from None
    return LayerInfo(
        digest="",
        diff_id=(known or "") if counting.hash is None else "sha256:" + counting.hash.hexdigest(),
        size=size,
        compression=compression,
        entries=entries,
    )


def _codec_errors(compression: str) -> tuple[type[Exception], ...]:
    """What a damaged stream raises besides OSError: zstandard's own error class."""
    if compression == "zstd":
        import zstandard

        return (zstandard.ZstdError,)
    return ()


def check_member(member: tarfile.TarInfo, where: str) -> None:
    """Refuse layer entries that could reach outside a root filesystem when unpacked."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FormatError(f"{where}: entry {name!r} climbs out of the root with '..'")
    if member.islnk():
        target = [p for p in member.linkname.split("/") if p not in ("", ".")]
        if ".." in target:
            raise FormatError(f"{where}: hard link {name!r} points outside the root")
    if member.ischr() or member.isblk():
        # Device nodes are legitimate in base images (/dev/null …): unpacking decides.
        return
    base = parts[-1] if parts else ""
    if base.startswith(".wh.") and base != ".wh..wh..opq" and len(base) == 4:
        raise FormatError(f"{where}: whiteout {name!r} names nothing")


def _cache_path(store: Store, digest: str) -> Path:
    oci.check_digest(digest)
    return store.cache / "layers" / (digest.split(":", 1)[1] + ".json")


def remember(store: Store, info: LayerInfo) -> None:
    """Cache a layer's figures (best effort: a lost write only costs a rescan)."""
    path = _cache_path(store, info.digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(info), out)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def layer_info(store: Store, digest: str) -> LayerInfo:
    """A layer's figures, from the cache or by scanning the blob once."""
    path = _cache_path(store, digest)
    try:
        data = json.loads(path.read_text())
        return LayerInfo(**data)
    except (OSError, ValueError, TypeError):
        pass
    with store.open_blob(digest) as f:
        info = scan_layer(f, store.blob_size(digest), f"layer {digest}", digest)
    info = LayerInfo(digest, info.diff_id, info.size, info.compression, info.entries)
    remember(store, info)
    return info
