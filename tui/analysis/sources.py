"""Where an analysed image comes from: archives, OCI layouts, the store, the daemon's export.

Nothing is extracted. An archive's members are indexed from their headers alone (`_Index`: the
checks of the store's archive reader, `imgtui.store.archive`, and docker's layer symlinks) and
each layer is then read in place with positional reads, so layers can be scanned in parallel.
The daemon's export (`GET /images/{name}/get`) is a stream: it is read once, front to back,
every layer scanned as it passes, and manifest.json/config (which come last in a classic
`docker save`) tie them together.

A plain `docker save` tar with uncompressed layers imports nothing of the store (nor tarfile,
pathlib or typing): `imgtui analyze` of such an archive holds little more than the interpreter.
OCI layouts and compressed archives or layers load the store's parsers when they need them.

Layer contents are not checked against their diff_ids here (that would hash every byte twice);
configs are checked against their digests, which is what names the figures in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from imgtui.analysis.engine import (
    AnalysisError,
    Cache,
    LayerSource,
    RandomAccessSource,
    ScannedLayer,
    scan_guarded,
)
from imgtui.analysis.tarscan import TarFormatError, _Buffered, _next_header, _num, iter_members
from imgtui.store import tarindex
from imgtui.store.tarindex import MemberIndex, Prefixed, layer_compression, outer_compression

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see the docstring)
if TYPE_CHECKING:
    from typing import IO, Any

    from imgtui.store import oci

TRANSPORTS = ("docker-archive", "oci-archive", "oci")
# The store's limit (imgtui.store.oci), repeated so a docker archive needs no more of the store
# than `tarindex`; tests/analysis checks that they agree.
MAX_JSON = 16 << 20  # oci.MAX_JSON_BLOB: manifests and configs larger than this are refused
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")  # oci.DIGEST_RE
BLOCK = 512


def split_transport(spec: str) -> tuple[str, str] | None:
    """("docker-archive", "PATH…") for a transport reference, None for a plain image name.

    A plain name never has "xxx:" where xxx is a known transport, so docker names like
    "localhost:5000/x" stay names. An unknown scheme-looking prefix ("foo:bar" with no "/" or
    "." before the colon and letters only) is refused by the caller as an unknown transport.
    """
    head, sep, rest = spec.partition(":")
    if sep and head in TRANSPORTS:
        return head, rest
    return None


def looks_like_transport(spec: str) -> bool:
    """True for "scheme:rest" that is no image name docker would accept (e.g. "foo-archive:x")."""
    head, sep, _ = spec.partition(":")
    return (bool(sep) and head.endswith(("-archive", "-daemon"))) or head in ("dir", "oci-dir")


# ------------------------------------------------------------------------------------ readers


class _Slice:
    """A read-only window of a file, read with pread so threads can share the descriptor."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self.fd = fd
        self.pos = offset
        self.end = offset + size

    def read(self, n: int = -1) -> bytes:
        left = self.end - self.pos
        if left <= 0:
            return b""
        if n < 0 or n > left:
            n = left
        data = os.pread(self.fd, n, self.pos)
        if not data:
            raise TarFormatError("file ends inside a layer (truncated archive)")
        self.pos += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        left = self.end - self.pos
        if left <= 0:
            return 0
        view = buffer[:left] if len(buffer) > left else buffer
        got = os.preadv(self.fd, [view], self.pos)
        if not got:
            raise TarFormatError("file ends inside a layer (truncated archive)")
        self.pos += got
        return got

    def skip(self, n: int) -> int:
        """Move on n bytes without reading them (fewer at the end of the window)."""
        n = max(0, min(n, self.end - self.pos))
        self.pos += n
        return n


def _layer_stream(raw: Any) -> IO[bytes]:
    """The uncompressed tar of a layer blob, whatever its compression (told by magic bytes)."""
    head = raw.read(4)
    kind = layer_compression(head)
    if kind == "tar":
        return Prefixed(head, raw)  # type: ignore[return-value]
    from imgtui.store.layers import decompressed  # gzip, zstandard: only for compressed layers

    return decompressed(Prefixed(head, raw), kind)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ archives


class _Index:
    """The members of an uncompressed archive, from their headers: where each file's data is.

    The checks and messages are the store loader's (`tarindex.MemberIndex`, which it uses too);
    only the header reading is this module's own, so that no tarfile is needed.
    """

    def __init__(self, fd: int, size: int, label: str) -> None:
        self.label = label
        index = self.members = MemberIndex(label, AnalysisError)
        self.files: dict[str, tuple[int, int]] = index.files  # name -> (data offset, size)
        self.links = index.links  # symlink name -> the regular file it names
        r = _Buffered(_Slice(fd, 0, size))  # type: ignore[arg-type]
        while True:
            at = r.base + r.pos
            try:
                if r.fill(BLOCK):
                    _check_header(r.buf[r.pos : r.pos + BLOCK])
                header = _next_header(r, label)
            except TarFormatError as e:
                if not len(index):
                    why = str(e).removeprefix(f"{label}: ")
                    raise AnalysisError(f"{label}: not a tar archive ({why})") from None
                if size - at < BLOCK:
                    raise AnalysisError(
                        f"{label}: truncated after member {index.last!r} (no end-of-archive marker)"
                    ) from None
                raise AnalysisError(
                    f"{label}: unreadable tar header at byte {at}, after {index.last!r}"
                ) from None
            if header is None:
                if at == r.base + r.pos:  # the file ended where a header should be
                    if not len(index):
                        raise AnalysisError(f"{label}: not a tar archive (empty file)")
                    raise AnalysisError(
                        f"{label}: truncated after member {index.last!r} (no end-of-archive marker)"
                    )
                break
            name, kind, _mode, _uid, _gid, stored, _real, link = header
            data_at = r.base + r.pos
            name = index.add(name, _KINDS.get(kind, "?"), (data_at, stored), link)
            if kind == "f" and data_at + stored > size:
                raise AnalysisError(
                    f"{label}: truncated: member {name!r} ends "
                    f"{data_at + stored - size} bytes past the end of the file"
                )
            padded = (stored + BLOCK - 1) & ~(BLOCK - 1)
            if data_at + padded > size:  # the data is there, the end of the archive is not
                raise AnalysisError(
                    f"{label}: truncated after member {name!r} (no end-of-archive marker)"
                )
            if padded:
                r.skip(padded, label)
        index.finish()

    def resolve(self, ref: Any, where: str) -> str:
        """A path named by manifest.json or a digest: the file holding it."""
        return self.members.resolve(ref, where)[0]


# tarscan's kind letters in tarindex's terms
_KINDS = {
    "f": tarindex.FILE,
    "d": tarindex.FOLDER,
    "l": tarindex.SYMLINK,
    "h": tarindex.HARDLINK,
    "c": tarindex.DEVICE,
    "b": tarindex.DEVICE,
    "p": tarindex.FIFO,
}


def _check_header(block: bytes) -> None:
    """A header block's checksum, as tarfile checks it (unsigned or signed sum); zeros pass."""
    if block.count(0) == BLOCK:
        return
    try:
        stored = _num(block[148:156])
    except ValueError:
        raise TarFormatError("invalid header") from None
    unsigned = 256 + sum(block[:148]) + sum(block[156:])
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127)
    if stored not in (unsigned, signed):
        raise TarFormatError("bad checksum")


class _Files:
    """Read access to the files of an image container (an archive or a folder)."""

    label: str

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def read(self, name: str, what: str) -> bytes:
        raise NotImplementedError

    def open(self, name: str) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError


class _ArchiveFiles(_Files):
    def __init__(self, index: _Index, fd: int, label: str) -> None:
        self.index = index
        self.fd = fd
        self.label = label

    def has(self, name: str) -> bool:
        return self.index.members.has(name)

    def read(self, name: str, what: str) -> bytes:
        offset, size = self.index.files[self.index.resolve(name, what)]
        if size > MAX_JSON:
            raise AnalysisError(f"{self.label}: {what}: {size} bytes of JSON, more than {MAX_JSON}")
        data = os.pread(self.fd, size, offset)
        if len(data) < size:
            raise AnalysisError(f"{self.label}: truncated: member {name!r}")
        return data

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[Any]:
        offset, size = self.index.files[self.index.resolve(name, name)]
        yield _Slice(self.fd, offset, size)


class _DirFiles(_Files):
    def __init__(self, root: str, label: str) -> None:
        self.root = root
        self.label = label

    def _path(self, name: str) -> str:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise AnalysisError(f"{self.label}: path {name!r} climbs out of the layout")
        return os.path.join(self.root, *parts)

    def has(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def read(self, name: str, what: str) -> bytes:
        path = self._path(name)
        try:
            size = os.stat(path).st_size
            if size > MAX_JSON:
                raise AnalysisError(
                    f"{self.label}: {what}: {size} bytes of JSON, more than allowed"
                )
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise AnalysisError(f"{self.label}: {what}: no {name}") from None
        except OSError as e:
            raise AnalysisError(f"{self.label}: {what}: {e.strerror}") from None

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[Any]:
        try:
            f = open(self._path(name), "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise AnalysisError(f"{self.label}: {name}: {e.strerror}") from None
        with f:
            yield f


# ------------------------------------------------------------------------------------ images


def _json(data: bytes, what: str, label: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise AnalysisError(f"{label}: {what} is not valid JSON ({e})") from None


def _config(files: _Files, name: str, expect: str | None) -> tuple[str, dict[str, Any]]:
    data = files.read(name, "config")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if expect is not None and digest != expect:
        raise AnalysisError(f"{files.label}: config {name} has digest {digest}, not {expect}")
    config = _json(data, f"config {name}", files.label)
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise AnalysisError(f"{files.label}: config {name} has no rootfs.diff_ids")
    return digest, config


def _random_source(
    image: str,
    files: _Files,
    config_digest: str,
    config: dict[str, Any],
    layer_names: Sequence[str],
) -> RandomAccessSource:
    diff_ids = [str(d) for d in config["rootfs"]["diff_ids"]]
    if len(diff_ids) != len(layer_names):
        raise AnalysisError(
            f"{files.label}: {len(layer_names)} layers, but the config has {len(diff_ids)} diff_ids"
        )
    for name in layer_names:
        if not files.has(name):
            raise AnalysisError(f"{files.label}: layer {name} is not there")

    @contextlib.contextmanager
    def opener(i: int) -> Iterator[IO[bytes]]:
        with files.open(layer_names[i]) as raw:
            try:
                yield _layer_stream(raw)
            except (OSError, EOFError) as e:
                raise AnalysisError(f"{files.label}: layer {layer_names[i]}: {e}") from None

    return RandomAccessSource(
        image,
        config_digest,
        config,
        diff_ids,
        opener,
        lambda i: f"{files.label}: layer {layer_names[i]}",
    )


def _docker_archive(image: str, files: _ArchiveFiles, ref: str | None) -> RandomAccessSource:
    manifest = _json(files.read("manifest.json", "manifest.json"), "manifest.json", files.label)
    if not isinstance(manifest, list) or not manifest:
        raise AnalysisError(f"{files.label}: manifest.json lists no images")
    entry = manifest[0]
    if ref is not None:
        matches = [m for m in manifest if isinstance(m, dict) and ref in (m.get("RepoTags") or [])]
        if not matches:
            raise AnalysisError(f"{files.label}: no image tagged {ref!r} in the archive")
        entry = matches[0]
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise AnalysisError(f"{files.label}: manifest.json image 0 has no Config")
    layer_names = entry.get("Layers")
    if not isinstance(layer_names, list) or not all(isinstance(x, str) for x in layer_names):
        raise AnalysisError(f"{files.label}: manifest.json image 0 has no Layers list")
    config_name = entry["Config"]
    claimed = _claimed_digest(config_name)
    digest, config = _config(files, config_name, claimed)
    return _random_source(image, files, digest, config, layer_names)


def _claimed_digest(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1].removesuffix(".json")
    return "sha256:" + base if _DIGEST_RE.match("sha256:" + base) else None


def _blob(digest: str, label: str) -> str:
    from imgtui.store import oci

    try:
        return "blobs/" + oci.check_digest(digest).replace(":", "/", 1)
    except oci.FormatError as e:
        raise AnalysisError(f"{label}: {e}") from None


def parse_platform(text: str) -> tuple[str, str, str | None]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise AnalysisError(f"platform {text!r} is not os/arch[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def pick_platform(
    children: Sequence[oci.Descriptor], platform: str | None, where: str
) -> oci.Descriptor:
    """The child of an image index for `platform` (default: this machine's)."""
    if platform:
        os_, arch, variant = parse_platform(platform)
    else:
        from imgtui.store.archive import host_platform

        os_, arch, variant = host_platform()
    fits = [
        d
        for d in children
        if (d.platform or {}).get("os") == os_
        and (d.platform or {}).get("architecture") == arch
        and (variant is None or (d.platform or {}).get("variant") in (variant, None, ""))
    ]
    exact = [d for d in fits if (d.platform or {}).get("variant") == variant]
    pick = (exact or fits or [None])[0]
    if pick is None:
        offered = sorted(
            "/".join(
                str(x)
                for x in ((d.platform or {}).get("os"), (d.platform or {}).get("architecture"))
            )
            + (f"/{d.platform['variant']}" if (d.platform or {}).get("variant") else "")
            for d in children
            if d.platform
        )
        want = "/".join(p for p in (os_, arch, variant) if p)
        has = f" (it has {', '.join(offered)})" if offered else ""
        raise AnalysisError(f"{where}: no image for platform {want}{has}")
    return pick


def _oci_layout(
    image: str, files: _Files, tag: str | None, platform: str | None
) -> RandomAccessSource:
    from imgtui.store import oci  # the store's manifest and index parsers

    label = files.label
    if not files.has("oci-layout"):
        raise AnalysisError(f"{label}: no oci-layout file: not an OCI image layout")
    try:
        entries = oci.parse_index(files.read("index.json", "index.json"), "index.json")
    except oci.FormatError as e:
        raise AnalysisError(f"{label}: {e}") from None
    if tag is not None:
        named = [
            d
            for d in entries
            if tag
            in (d.annotations.get(oci.REF_ANNOTATION), d.annotations.get(oci.NAME_ANNOTATION))
            or (d.annotations.get(oci.NAME_ANNOTATION) or "").endswith(f":{tag}")
        ]
        if not named:
            raise AnalysisError(f"{label}: no image named {tag!r} in index.json")
        entries = named
    if not entries:
        raise AnalysisError(f"{label}: index.json lists no images")
    desc = entries[0]
    for _ in range(4):
        if desc.media_type in oci.MANIFEST_TYPES:
            break
        if desc.media_type not in oci.INDEX_TYPES:
            raise AnalysisError(f"{label}: {desc.digest} is a {desc.media_type}, not an image")
        try:
            children = oci.parse_index(
                files.read(_blob(desc.digest, label), "image index"), desc.digest
            )
        except oci.FormatError as e:
            raise AnalysisError(f"{label}: {e}") from None
        desc = pick_platform(children, platform, f"{label}: image index {desc.digest}")
    else:
        raise AnalysisError(f"{label}: image indexes nested too deep")
    try:
        manifest = oci.parse_manifest(
            files.read(_blob(desc.digest, label), "manifest"), f"manifest {desc.digest}"
        )
    except oci.FormatError as e:
        raise AnalysisError(f"{label}: {e}") from None
    digest, config = _config(files, _blob(manifest.config.digest, label), manifest.config.digest)
    return _random_source(
        image, files, digest, config, [_blob(layer.digest, label) for layer in manifest.layers]
    )


def _split_path_ref(rest: str) -> tuple[str, str | None]:
    """ "PATH[:REF]": the longest prefix that exists is the path (paths may hold colons)."""
    if not rest:
        raise AnalysisError("no path given after the transport")
    if os.path.exists(rest):
        return rest, None
    i = rest.find(":")
    while i > 0:
        if os.path.exists(rest[:i]):
            return rest[:i], rest[i + 1 :] or None
        i = rest.find(":", i + 1)
    return rest, None


@contextlib.contextmanager
def open_transport(spec: str, *, platform: str | None = None) -> Iterator[LayerSource]:
    """A source for "docker-archive:PATH[:REF]", "oci-archive:PATH[:REF]" or "oci:DIR[:TAG]"."""
    split = split_transport(spec)
    if split is None:
        raise AnalysisError(
            f"{spec!r}: unknown transport (use docker-archive:PATH, oci-archive:PATH or oci:DIR)"
        )
    transport, rest = split
    path_text, ref = _split_path_ref(rest)
    path = path_text.rstrip("/") or path_text  # as pathlib reads "a.tar/": the file a.tar
    label = path_text
    if transport == "oci":
        if not os.path.isdir(path):
            raise AnalysisError(f"{label}: no such directory (oci: wants an OCI layout folder)")
        yield _oci_layout(spec, _DirFiles(path, label), ref, platform)
        return
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the exit stack
    except FileNotFoundError:
        raise AnalysisError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise AnalysisError(f"{label}: is a directory, not an archive") from None
    except OSError as e:
        raise AnalysisError(f"{label}: {e.strerror}") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        head = raw.read(6)
        raw.seek(0)
        kind = outer_compression(head)
        f: IO[bytes] = raw
        if kind != "tar":
            import tempfile

            from imgtui.store import archive as store_archive
            from imgtui.store import oci

            tmp = stack.enter_context(tempfile.TemporaryFile(prefix="imgtui-analyze-"))
            size = os.fstat(raw.fileno()).st_size
            try:
                store_archive._inflate(raw, kind, tmp, store_archive._outer_limit(size), label)
            except oci.FormatError as e:
                raise AnalysisError(str(e)) from None
            f = tmp
        size = os.fstat(f.fileno()).st_size
        index = _Index(f.fileno(), size, label)
        files = _ArchiveFiles(index, f.fileno(), label)
        if transport == "docker-archive":
            if not files.has("manifest.json"):
                raise AnalysisError(f"{label}: no manifest.json: not a docker-save archive")
            yield _docker_archive(spec, files, ref)
        else:
            yield _oci_layout(spec, files, ref, platform)


# ------------------------------------------------------------------------------------ streams


class ExportStreamSource(LayerSource):
    """An image read from one pass over a `docker save` stream (the daemon's export).

    `diff_ids` and the config digest come from the daemon up front (inspect), so a cached image
    never starts an export; the config itself is taken from the stream (or the cache).
    """

    def __init__(
        self,
        image: str,
        config_digest: str,
        diff_ids: Sequence[str],
        export: Callable[[], contextlib.AbstractContextManager[IO[bytes]]],
        cache: Cache,
    ) -> None:
        self.image = image
        self.config_digest = config_digest
        self.diff_ids = list(diff_ids)
        self._export = export
        self._cache = cache
        self._config: Mapping[str, Any] | None = cache.config(config_digest)
        self._layers: dict[int, ScannedLayer] | None = None

    @property
    def config(self) -> Mapping[str, Any]:  # type: ignore[override]
        if self._config is None:
            self._read()
        assert self._config is not None
        return self._config

    def scan(self, wanted: Sequence[int]) -> Iterable[tuple[int, ScannedLayer]]:
        if self._layers is None:
            self._read()
        assert self._layers is not None
        return [(i, self._layers[i]) for i in wanted]

    def _read(self) -> None:
        label = f"export of {self.image}"
        jsons: dict[str, bytes] = {}
        links: dict[str, str] = {}
        scanned: dict[str, ScannedLayer] = {}
        with self._export() as stream:
            try:
                for m in iter_members(stream, where=label):
                    name = m.name
                    if m.kind == "l":
                        links[name] = m.link
                        continue
                    if m.kind != "f":
                        continue
                    if name.endswith(".json") or name in ("index.json", "oci-layout"):
                        if m.size <= MAX_JSON:
                            jsons[name] = m.read()
                        continue
                    if not (name.endswith(".tar") or name.startswith("blobs/")):
                        continue
                    head = m.read(1)
                    if head in (b"{", b"["):
                        if m.size <= MAX_JSON:
                            jsons[name] = head + m.read()
                        continue
                    scanned[name] = scan_guarded(
                        lambda: contextlib.nullcontext(_layer_stream(Prefixed(head, m))),  # noqa: B023
                        f"{label}: layer {name}",
                    )
            except AnalysisError:
                raise
            except TarFormatError as e:
                raise AnalysisError(str(e)) from None
            except Exception as e:  # the connection broke: urllib3, requests, OSError
                raise AnalysisError(f"{label}: the export stream failed ({e})") from None
        manifest = _json(jsons.get("manifest.json", b"null"), "manifest.json", label)
        if not isinstance(manifest, list) or not manifest:
            raise AnalysisError(f"{label}: the export has no manifest.json")
        chosen = None
        for entry in manifest:
            name = entry.get("Config") if isinstance(entry, dict) else None
            data = jsons.get(_follow(str(name), links)) if name else None
            if data is not None and "sha256:" + hashlib.sha256(data).hexdigest() == (
                self.config_digest
            ):
                chosen = (entry, data)
                break
        if chosen is None:
            raise AnalysisError(f"{label}: the export does not hold config {self.config_digest}")
        entry, data = chosen
        config = _json(data, "config", label)
        layer_names = [_follow(str(x), links) for x in entry.get("Layers") or []]
        if len(layer_names) != len(self.diff_ids):
            raise AnalysisError(
                f"{label}: {len(layer_names)} layers, but the daemon said {len(self.diff_ids)}"
            )
        missing = [n for n in layer_names if n not in scanned]
        if missing:
            raise AnalysisError(f"{label}: layer {missing[0]} is not in the export")
        self._config = config
        self._cache.put_config(self.config_digest, config)
        self._layers = {i: scanned[n] for i, n in enumerate(layer_names)}


def _follow(name: str, links: Mapping[str, str]) -> str:
    """A member name with docker's relative layer symlinks (../<id>/layer.tar) resolved."""
    for _ in range(8):
        target = links.get(name)
        if target is None:
            return name
        parts = name.split("/")[:-1]
        for p in target.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(p)
        name = "/".join(parts)
    return name
