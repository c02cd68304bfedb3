"""Sample images for `imgtui demo`, made on the spot from generated files: no network, no daemon.

What goes into the store (familiar names; every tag is unique across repositories, so
`skopeo inspect oci:STORE:TAG` and `umoci unpack --image STORE:TAG` find each one):

* ``demo/base:1.0`` = ``demo/base:latest``: one layer, a small fake Linux root filesystem
  (busybox-style symlinks, a hard link, /tmp 1777, /root 0700, /etc/shadow 0640 …).
* ``demo/web:1.2``: nginx-like, classic builder; a 0-byte WORKDIR layer like docker's.
  Its previous build (``demo/web:1.1`` content) is left dangling, as when a tag moves.
* ``demo/api:2.0``: classic builder with MAINTAINER, ARG (``|1 VERSION=2.0 /bin/sh -c …``),
  VOLUME, ONBUILD, STOPSIGNAL, ENTRYPOINT + CMD; its app layer is an uncompressed tar.
* ``demo/worker:dev``: BuildKit history, a zstd layer, SHELL, HEALTHCHECK, and its original
  Dockerfile kept as a blob (manifest annotation ``oci.DOCKERFILE_ANNOTATION``).
* ``demo/data:3.1``: wasted space: a file written then overwritten, a file deleted by a later
  layer (``.wh.name``) and a directory replaced through an opaque whiteout (``.wh..wh..opq``).

Determinism: file contents, modes and mtimes are fixed, so every layer (and its diff_id) is the
same on every run. Image `created` dates are spread over the last three months before `now`, so
CREATED columns read like a real machine's; `now` is floored to the hour first, so runs within one
hour give identical image ids and a re-run is a no-op. A later run makes new configs (new ids) for
the same layers: its names move to them and the previous run's demo manifests, now nameless, are
dropped from the index (their few KB of config and manifest blobs are left for prune), so the
store never holds two copies of the demo set. Pass a fixed `now` to get fixed ids.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from imgtui.reference import familiar, normalize
from imgtui.store import oci
from imgtui.store.layers import remember, scan_layer
from imgtui.store.layout import Index, Store, StoreError
from imgtui.store.oci import Descriptor, FormatError

try:  # an optional reader in the store; the demo falls back to gzip without it
    import zstandard
except ImportError:  # pragma: no cover - zstandard is a dependency
    zstandard = None  # type: ignore[assignment]

__all__ = ["DEMO_ANNOTATION", "make_demo"]

# Marks the demo's manifests, so a later run can tell its own stale copies from user images.
DEMO_ANNOTATION = "org.imgtui.demo"
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"
BUILDKIT_COMMENT = "buildkit.dockerfile.v0"

# File mtimes inside the layers: fixed, so layers never change (2024-03-01 … 2024-06-01 UTC).
MTIME_BASE = 1709251200
MTIME_PKG = 1712000000
MTIME_SRC = 1717200000

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECOND = 1_000_000_000  # Go durations in image configs are nanoseconds

# --------------------------------------------------------------------------- generated content

_VOCABULARY = (
    "the of and to in is for on with as by at from that this it be are or an config server "
    "request response cache layer image build token value error handler module queue worker "
    "static route index default timeout retry buffer stream socket client proxy header "
    "session user group mode path file data model version release update debug info warn"
)
_WORDS = _VOCABULARY.split()


def _noise(seed: str, size: int) -> bytes:
    """Incompressible bytes, the same forever for one seed (shake is specified, not seeded)."""
    return hashlib.shake_256(seed.encode()).digest(size)


def _elf(seed: str, size: int) -> bytes:
    """A fake executable: an ELF magic, then noise, so `file`-like tools are not confused."""
    return b"\x7fELF\x02\x01\x01\x00" + _noise(seed, size - 8)


def _text(seed: str, size: int) -> bytes:
    """Compressible, log-like English of about `size` bytes."""
    picks = _noise(seed, size // 4 + 64)
    out = bytearray()
    line: list[str] = []
    for i, b in enumerate(picks):
        line.append(_WORDS[b % len(_WORDS)])
        if len(line) >= 8 + b % 6:
            out += f"{i:06d} {' '.join(line)}\n".encode()
            line = []
        if len(out) >= size:
            break
    return bytes(out[:size])


def _pem(seed: str, count: int) -> bytes:
    """A CA bundle look-alike: base64 blocks between BEGIN/END lines."""
    out = bytearray()
    for i in range(count):
        body = base64.encodebytes(_noise(f"{seed}-{i}", 1100)).replace(b"\n", b"")
        out += f"# Demo Root CA {i + 1}\n-----BEGIN CERTIFICATE-----\n".encode()
        out += b"\n".join(body[j : j + 64] for j in range(0, len(body), 64))
        out += b"\n-----END CERTIFICATE-----\n\n"
    return bytes(out)


# --------------------------------------------------------------------------- tar entries


@dataclass(frozen=True, slots=True)
class _Entry:
    """One tar member of a layer."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink"
    data: bytes = b""
    target: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = MTIME_BASE


def _d(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = MTIME_BASE) -> _Entry:
    """A directory; modes and owners matter, as readers and unpackers must keep them."""
    return _Entry(path, "dir", mode=mode, uid=uid, gid=gid, mtime=mtime)


def _f(
    path: str,
    data: bytes | str,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    mtime: int = MTIME_BASE,
) -> _Entry:
    raw = data.encode() if isinstance(data, str) else data
    return _Entry(path, "file", raw, mode=mode, uid=uid, gid=gid, mtime=mtime)


def _sym(path: str, target: str, mtime: int = MTIME_BASE) -> _Entry:
    """A symlink; docker counts its target's length as layer size."""
    return _Entry(path, "symlink", target=target, mode=0o777, mtime=mtime)


def _hard(path: str, target: str, mode: int = 0o755, mtime: int = MTIME_BASE) -> _Entry:
    """A hard link to an earlier member of the same layer (`target` is root-relative)."""
    return _Entry(path, "hardlink", target=target, mode=mode, mtime=mtime)


def _whiteout(path: str, mtime: int) -> _Entry:
    """Docker's marker for `path` deleted by this layer (an empty `.wh.<name>` file)."""
    parent, _, name = path.rpartition("/")
    return _f(f"{parent}/.wh.{name}" if parent else f".wh.{name}", b"", mode=0o600, mtime=mtime)


def _opaque(directory: str, mtime: int) -> _Entry:
    """Docker's marker for a directory whose lower-layer contents are all hidden."""
    return _f(f"{directory}/.wh..wh..opq", b"", mode=0o600, mtime=mtime)


def _tar(entries: Iterable[_Entry]) -> bytes:
    """A layer tar laid out as Go's archive/tar writes it: headers, data, two zero blocks.

    Parent directories missing from `entries` are added first (0755, root), since layer
    readers expect a directory before its children.
    """
    out = bytearray()
    seen: set[str] = set()
    for e in entries:
        if e.path in seen:
            raise ValueError(f"demo layer lists {e.path!r} twice (or after its children)")
        parts = e.path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in seen:
                seen.add(parent)
                out += _member(_d(parent, mtime=e.mtime))
        seen.add(e.path)
        out += _member(e)
    out += bytes(2 * tarfile.BLOCKSIZE)
    return bytes(out)


def _member(e: _Entry) -> bytes:
    """One header (PAX only where ustar cannot say it) and its zero-padded data."""
    info = tarfile.TarInfo(e.path)
    info.mode = e.mode
    info.uid, info.gid = e.uid, e.gid
    info.uname = "root" if e.uid == 0 else ""
    info.gname = "root" if e.gid == 0 else ""
    info.mtime = e.mtime
    if e.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif e.kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, e.target
    elif e.kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, e.target
    else:
        info.type, info.size = tarfile.REGTYPE, len(e.data)
    head = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    if not e.data:
        return head
    pad = -len(e.data) % tarfile.BLOCKSIZE
    return head + e.data + bytes(pad)


# --------------------------------------------------------------------------- the root filesystem

_BUSYBOX_APPLETS = (
    *("ash", "cat", "chmod", "chown", "cp", "date", "df", "echo", "grep", "gzip", "hostname"),
    *("kill", "ln", "ls", "mkdir", "mount", "mv", "ps", "rm", "sed", "sh", "sleep", "tar"),
    *("touch", "uname", "vi"),
)

OS_RELEASE = """\
NAME="Demo Linux"
ID=demo
VERSION_ID=1.0.3
PRETTY_NAME="Demo Linux v1.0"
HOME_URL="https://example.com/demo-linux"
BUG_REPORT_URL="https://example.com/demo-linux/issues"
"""

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""

GROUP = """\
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
shadow:x:42:
nogroup:x:65533:
nobody:x:65534:
"""

SHADOW = """\
root:*::0:::::
bin:!::0:::::
daemon:!::0:::::
nobody:!::0:::::
"""


def _apk_db(packages: Sequence[str]) -> str:
    """The package database a package manager rewrites on every install."""
    return "".join(
        f"P:{p}\nV:{1 + len(p) % 3}.{len(p)}.{sum(map(ord, p)) % 10}-r0\nA:x86_64\n"
        f"T:{p} package for Demo Linux\nL:MIT\n\n"
        for p in packages
    )


BASE_PACKAGES = ("busybox", "demo-baselayout", "musl", "zlib", "libcrypto3", "libssl3", "pigz")


def _rootfs() -> list[_Entry]:
    """A small fake Linux root filesystem (about 2 MB)."""
    return [
        _d("bin"),
        _f("bin/busybox", _elf("busybox", 640 << 10), 0o755),
        *(_sym(f"bin/{a}", "/bin/busybox") for a in _BUSYBOX_APPLETS),
        _d("dev"),
        _d("etc"),
        _f("etc/demo-release", "1.0.3\n"),
        _f("etc/group", GROUP),
        _f("etc/hostname", "localhost\n"),
        _f(
            "etc/hosts",
            "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost ip6-localhost\n",
        ),
        _f("etc/motd", "Welcome to Demo Linux!\n"),
        _f("etc/os-release", OS_RELEASE),
        _f("etc/passwd", PASSWD),
        _f(
            "etc/profile",
            'export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n',
        ),
        _f("etc/shadow", SHADOW, 0o640, gid=42),
        _f("etc/shells", "/bin/sh\n/bin/ash\n"),
        _d("etc/ssl"),
        _sym("etc/ssl/cert.pem", "certs/ca-certificates.crt"),
        _d("etc/ssl/certs"),
        _f("etc/ssl/certs/ca-certificates.crt", _pem("ca", 120)),
        _d("home"),
        _d("lib"),
        _d("lib/apk"),
        _d("lib/apk/db"),
        _f("lib/apk/db/installed", _apk_db(BASE_PACKAGES)),
        _f("lib/ld-musl-x86_64.so.1", _elf("musl", 600 << 10), 0o755),
        _sym("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
        _d("media"),
        _d("mnt"),
        _d("opt"),
        _d("proc", 0o555),
        _d("root", 0o700),
        _d("run"),
        _d("sbin"),
        _f("sbin/apk", _elf("apk", 70 << 10), 0o755),
        _sym("sbin/init", "/bin/busybox"),
        _d("srv"),
        _d("sys", 0o555),
        _d("tmp", 0o1777),
        _d("usr"),
        _d("usr/bin"),
        _sym("usr/bin/env", "/bin/busybox"),
        _f("usr/bin/pigz", _elf("pigz", 80 << 10), 0o755),
        _hard("usr/bin/unpigz", "usr/bin/pigz"),
        _d("usr/lib"),
        _f("usr/lib/libcrypto.so.3", _elf("libcrypto", 380 << 10), 0o755),
        _f("usr/lib/libssl.so.3", _elf("libssl", 90 << 10), 0o755),
        _sym("usr/lib/libz.so.1", "libz.so.1.3.1"),
        _f("usr/lib/libz.so.1.3.1", _elf("zlib", 100 << 10), 0o755),
        _d("usr/local"),
        _d("usr/local/bin"),
        _d("usr/sbin"),
        _d("usr/share"),
        _d("var"),
        _d("var/cache"),
        _d("var/empty", 0o555),
        _d("var/lib"),
        _d("var/log"),
        _sym("var/run", "/run"),
        _d("var/tmp", 0o1777),
    ]


# --------------------------------------------------------------------------- image assembly


@dataclass(frozen=True, slots=True)
class _Layer:
    """A stored layer and the hashes histories and configs refer to it by."""

    descriptor: Descriptor
    diff_id: str
    tar_hex: str  # sha256 of the tar, what the classic builder prints as dir:/file: hashes


@dataclass(frozen=True, slots=True)
class _Step:
    """One Dockerfile instruction as history records it; `layer` None means empty_layer."""

    created_by: str
    layer: _Layer | None = None
    seconds: int = 1  # how long the step took, for realistic `created` times
    buildkit: bool = False


@dataclass(frozen=True, slots=True)
class _Image:
    """A stored image; children start from its layers and history, as a FROM does."""

    manifest: Descriptor
    layers: tuple[_Layer, ...]
    history: tuple[dict[str, Any], ...]


def _nop(text: str) -> _Step:
    """A classic-builder metadata step (`#(nop)` and docker's two spaces)."""
    return _Step(f"/bin/sh -c #(nop)  {text}")


def _classic_copy(kind: str, digest_hex: str, dest: str, layer: _Layer) -> _Step:
    """The classic builder's COPY: sources as content hashes, and docker's trailing space."""
    return _Step(f"/bin/sh -c #(nop) COPY {kind}:{digest_hex} in {dest} ", layer)


def _classic_run(command: str, layer: _Layer, seconds: int, args: str = "") -> _Step:
    """The classic builder's RUN: the command itself, build args first (`|1 A=b`)."""
    prefix = f"{args} " if args else ""
    return _Step(f"{prefix}/bin/sh -c {command}", layer, seconds)


def _bk(text: str, layer: _Layer | None = None, seconds: int = 1) -> _Step:
    """A BuildKit step: the instruction itself, commented buildkit.dockerfile.v0."""
    return _Step(text, layer, seconds, buildkit=True)


def _stamp(when: datetime, nanos: int) -> str:
    """RFC 3339 with nanoseconds, as Go writes image timestamps."""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % 1_000_000_000:09d}Z"


def _runtime(**fields: Any) -> dict[str, Any]:
    """An image's `config` object: the set fields only, in the order docker writes them."""
    order = (
        *("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Volumes"),
        *("WorkingDir", "Entrypoint", "OnBuild", "Labels", "StopSignal", "Shell"),
    )
    return {k: fields[k] for k in order if fields.get(k) not in (None, "", [], {})}


class _Builder:
    """Writes layers, configs and manifests; names are set by the caller, all at once."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now

    def layer(self, entries: Iterable[_Entry], compression: str = "gzip") -> _Layer:
        """Store one layer blob and remember its figures in the layer cache."""
        tar = _tar(entries)
        tar_hex = hashlib.sha256(tar).hexdigest()
        if compression == "zstd" and zstandard is not None:
            blob = zstandard.ZstdCompressor(level=3).compress(tar)
            media_type = oci.OCI_LAYER_ZSTD
        elif compression == "tar":
            blob, media_type = tar, oci.OCI_LAYER
        else:
            blob, media_type = gzip.compress(tar, compresslevel=6, mtime=0), oci.OCI_LAYER_GZIP
        digest = self._write(blob, "demo layer")
        info = scan_layer(io.BytesIO(blob), len(blob), f"demo layer {digest}")
        if info.diff_id != "sha256:" + tar_hex:
            raise StoreError(f"demo layer {digest}: diff_id {info.diff_id} is not the tar's")
        remember(self.store, dataclasses.replace(info, digest=digest))
        return _Layer(Descriptor(media_type, digest, len(blob)), info.diff_id, tar_hex)

    def image(
        self,
        steps: Sequence[_Step],
        *,
        started: timedelta,
        runtime: dict[str, Any],
        base: _Image | None = None,
        base_name: str = "",
        author: str = "",
        dockerfile: str = "",
    ) -> _Image:
        """Store the config and manifest of an image built `started` before now."""
        history = list(base.history) if base else []
        layers = list(base.layers) if base else []
        when = self.now - started
        jitter = int(started.total_seconds()) * 7_777_777  # sub-second digits, as real ones vary
        for i, step in enumerate(steps):
            entry: dict[str, Any] = {
                "created": _stamp(when, jitter + 104_729 * (len(history) + 1) * (i + 7919)),
                "created_by": step.created_by,
            }
            if author and not step.buildkit:
                entry["author"] = author  # the classic builder repeats MAINTAINER on each step
            if step.buildkit:
                entry["comment"] = BUILDKIT_COMMENT
            if step.layer is None:
                entry["empty_layer"] = True
            else:
                layers.append(step.layer)
            history.append(entry)
            when += timedelta(seconds=step.seconds)
        config: dict[str, Any] = {"created": history[-1]["created"]}
        if author:
            config["author"] = author
        config |= {
            "architecture": "amd64",
            "os": "linux",
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": history,
        }
        config_bytes = oci.canonical_json(config)
        config_desc = Descriptor(
            oci.OCI_CONFIG, self._write(config_bytes, "demo config"), len(config_bytes)
        )
        annotations = {DEMO_ANNOTATION: "true"}
        if base is not None:
            annotations[BASE_NAME_ANNOTATION] = normalize(base_name)
            annotations[BASE_DIGEST_ANNOTATION] = base.manifest.digest
        if dockerfile:
            annotations[oci.DOCKERFILE_ANNOTATION] = self._write(dockerfile.encode(), "Dockerfile")
        manifest = oci.Manifest(
            oci.OCI_MANIFEST, config_desc, tuple(x.descriptor for x in layers), annotations
        )
        manifest_bytes = oci.canonical_json(manifest.to_json())
        digest = self._write(manifest_bytes, "demo manifest")
        return _Image(
            Descriptor(oci.OCI_MANIFEST, digest, len(manifest_bytes)),
            tuple(layers),
            tuple(history),
        )

    def _write(self, data: bytes, where: str) -> str:
        """Store a blob; an existing one is kept without rewriting it (re-runs stay fast)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.store.write_blob(data, expected_digest=digest, where=where)
        return digest


# --------------------------------------------------------------------------- the images

NGINX_CONF = """\
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log warn;
pid /run/nginx/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    include /etc/nginx/http.d/*.conf;
}
"""

SITE_CONF = """\
server {
    listen 80 default_server;
    root /srv/www;
    index index.html;
    location / {
        try_files $uri $uri/ =404;
    }
    location /healthz {
        return 200 "ok\\n";
    }
}
"""

WORKER_DOCKERFILE = """\
FROM demo/base:1.0

ARG PYTHON=python3
LABEL org.opencontainers.image.title=worker org.opencontainers.image.version=dev
ENV QUEUE=default CONCURRENCY=4

RUN apk add --no-cache ${PYTHON} && adduser -D -u 1000 worker

WORKDIR /app
COPY . /app

SHELL ["/bin/sh", "-eu", "-c"]
USER worker
EXPOSE 9100
HEALTHCHECK --interval=1m --timeout=10s CMD ["python3", "-c", "import worker; worker.ping()"]
ONBUILD COPY . /app
STOPSIGNAL SIGINT
ENTRYPOINT ["python3", "-m", "worker"]
CMD ["--queue", "default"]
"""


def _site(version: str) -> list[_Entry]:
    """The static site COPY'd into demo/web; each version differs."""
    m = MTIME_SRC if version == "1.2" else MTIME_SRC - 86400 * 30
    html = (
        f"<!doctype html>\n<html><head><title>Demo web {version}</title>"
        '<link rel="stylesheet" href="style.css"></head>\n'
        f'<body><img src="img/logo.png"><h1>Demo web {version}</h1>'
        '<script src="app.js"></script></body></html>\n'
    )
    app_size = (120 if version == "1.2" else 95) << 10
    return [
        _d("srv", mtime=m),
        _d("srv/www", mtime=m),
        _f("srv/www/app.js", _text(f"app.js-{version}", app_size), mtime=m),
        _f("srv/www/favicon.ico", _noise(f"favicon-{version}", 4286), mtime=m),
        _d("srv/www/img", mtime=m),
        _f(
            "srv/www/img/logo.png",
            b"\x89PNG\r\n\x1a\n" + _noise(f"logo-{version}", 150 << 10),
            mtime=m,
        ),
        _f("srv/www/index.html", html, mtime=m),
        _f("srv/www/style.css", _text(f"style-{version}", 20 << 10), mtime=m),
    ]


def _python(mtime: int, extra_users: str = "", extra_groups: str = "") -> list[_Entry]:
    """What `apk add python3` leaves: the interpreter, some stdlib, an updated package db."""
    entries = [
        _d("etc", mtime=mtime),
        _d("lib/apk/db", mtime=mtime),
        _f("lib/apk/db/installed", _apk_db((*BASE_PACKAGES, "python3", "libffi")), mtime=mtime),
        _d("usr/bin", mtime=mtime),
        _sym("usr/bin/python3", "python3.12", mtime=mtime),
        _f("usr/bin/python3.12", _elf("python3.12", 300 << 10), 0o755, mtime=mtime),
        _d("usr/lib/python3.12", mtime=mtime),
    ]
    for name in ("asyncio", "email", "http", "json", "logging"):
        entries.append(_d(f"usr/lib/python3.12/{name}", mtime=mtime))
        entries.append(
            _f(f"usr/lib/python3.12/{name}/__init__.py", _text(f"py-{name}", 60 << 10), mtime=mtime)
        )
    entries.append(_f("usr/lib/libffi.so.8", _elf("libffi", 40 << 10), 0o755, mtime=mtime))
    if extra_users:
        entries += [
            _f("etc/group", GROUP + extra_groups, mtime=mtime),
            _f("etc/passwd", PASSWD + extra_users, mtime=mtime),
        ]
    return sorted(entries, key=lambda e: e.path)


def _build_all(b: _Builder) -> tuple[list[tuple[str, _Image]], _Image]:
    """Every demo image: (familiar name, image) pairs in tagging order, and the dangling one."""
    day = timedelta(days=1)

    # demo/base:1.0 = latest
    rootfs = b.layer(_rootfs())
    base = b.image(
        [
            _Step(f"/bin/sh -c #(nop) ADD file:{rootfs.tar_hex} in / ", rootfs),
            _nop('CMD ["/bin/sh"]'),
        ],
        started=90 * day,
        runtime=_runtime(Env=[PATH_ENV], Cmd=["/bin/sh"]),
    )

    # demo/web: two builds sharing every layer but the site; the older one ends up dangling
    nginx = b.layer(
        [
            _d("etc", mtime=MTIME_PKG),
            _f("etc/group", GROUP + "nginx:x:101:nginx\n", mtime=MTIME_PKG),
            _d("etc/nginx", mtime=MTIME_PKG),
            _d("etc/nginx/http.d", mtime=MTIME_PKG),
            _f("etc/nginx/mime.types", _text("mime", 5 << 10), mtime=MTIME_PKG),
            _f("etc/nginx/nginx.conf", NGINX_CONF, mtime=MTIME_PKG),
            _f(
                "etc/passwd",
                PASSWD + "nginx:x:101:101:nginx:/var/lib/nginx:/sbin/nologin\n",
                mtime=MTIME_PKG,
            ),
            _d("lib/apk/db", mtime=MTIME_PKG),
            _f(
                "lib/apk/db/installed", _apk_db((*BASE_PACKAGES, "nginx", "pcre2")), mtime=MTIME_PKG
            ),
            _d("run/nginx", mtime=MTIME_PKG),
            _d("usr/lib/nginx", mtime=MTIME_PKG),
            _d("usr/lib/nginx/modules", mtime=MTIME_PKG),
            _f(
                "usr/lib/nginx/modules/ngx_http_image_filter_module.so",
                _elf("ngx-image", 100 << 10),
                0o755,
                mtime=MTIME_PKG,
            ),
            _f("usr/lib/libpcre2-8.so.0", _elf("pcre2", 120 << 10), 0o755, mtime=MTIME_PKG),
            _d("usr/sbin", mtime=MTIME_PKG),
            _f("usr/sbin/nginx", _elf("nginx", 900 << 10), 0o755, mtime=MTIME_PKG),
            _d("var/lib/nginx", 0o750, uid=101, gid=101, mtime=MTIME_PKG),
            _d("var/lib/nginx/tmp", 0o700, uid=101, gid=101, mtime=MTIME_PKG),
            _d("var/log/nginx", 0o750, uid=101, gid=101, mtime=MTIME_PKG),
            _sym("var/log/nginx/access.log", "/dev/stdout", mtime=MTIME_PKG),
            _sym("var/log/nginx/error.log", "/dev/stderr", mtime=MTIME_PKG),
        ]
    )
    site_conf_bytes = SITE_CONF.encode()
    site_conf = b.layer(
        [
            _d("etc/nginx/http.d", mtime=MTIME_SRC),
            _f("etc/nginx/http.d/default.conf", SITE_CONF, mtime=MTIME_SRC),
        ]
    )
    nothing = b.layer([])  # WORKDIR on an existing directory: docker's 1024-zero-byte layer

    def web(version: str, started: timedelta) -> _Image:
        site = b.layer(_site(version))
        labels = {
            "maintainer": "web-team@example.com",
            "org.opencontainers.image.source": "https://example.com/demo/web",
            "org.opencontainers.image.version": version,
        }
        health = ["CMD-SHELL", "wget -q -O /dev/null http://localhost/healthz || exit 1"]
        return b.image(
            [
                _nop("LABEL " + " ".join(f"{k}={v}" for k, v in labels.items())),
                _nop("ENV NGINX_VERSION=1.25.3 NGINX_PORT=80"),
                _classic_run("apk add --no-cache nginx && mkdir -p /run/nginx", nginx, 38),
                _classic_copy(
                    "file",
                    hashlib.sha256(site_conf_bytes).hexdigest(),
                    "/etc/nginx/http.d/default.conf",
                    site_conf,
                ),
                _classic_copy("dir", site.tar_hex, "/srv/www", site),
                _Step("/bin/sh -c #(nop) WORKDIR /srv/www", nothing),
                _nop("EXPOSE 80"),
                _nop("USER nginx"),
                _nop(
                    'HEALTHCHECK &{["CMD-SHELL" "wget -q -O /dev/null http://localhost/healthz '
                    '|| exit 1"] "30s" "3s" "5s" "0s" \'\\x03\'}'
                ),
                _nop("STOPSIGNAL SIGQUIT"),
                _nop('CMD ["nginx" "-g" "daemon off;"]'),
            ],
            started=started,
            base=base,
            base_name="demo/base:1.0",
            runtime=_runtime(
                User="nginx",
                ExposedPorts={"80/tcp": {}},
                Env=[PATH_ENV, "NGINX_VERSION=1.25.3", "NGINX_PORT=80"],
                Cmd=["nginx", "-g", "daemon off;"],
                Healthcheck={
                    "Test": health,
                    "Interval": 30 * SECOND,
                    "Timeout": 3 * SECOND,
                    "StartPeriod": 5 * SECOND,
                    "Retries": 3,
                },
                WorkingDir="/srv/www",
                Labels=labels,
                StopSignal="SIGQUIT",
            ),
        )

    web_old = web("1.1", 20 * day)
    web_new = web("1.2", 2 * day)

    # demo/api:2.0, classic builder with a build arg
    maintainer = "Dana Ops <dana@example.com>"
    args = "|1 VERSION=2.0"
    api_python = b.layer([*_python(MTIME_PKG), _f("etc/api-version", "2.0\n", mtime=MTIME_PKG)])
    api_workdir = b.layer([_d("app", mtime=MTIME_SRC)])
    requirements = b"fastapi==0.110.0\nuvicorn==0.29.0\npydantic==2.6.4\n"
    api_req = b.layer(
        [_d("app", mtime=MTIME_SRC), _f("app/requirements.txt", requirements, mtime=MTIME_SRC)]
    )
    site_packages = "usr/lib/python3.12/site-packages"
    api_pip = b.layer(
        [
            _d(site_packages, mtime=MTIME_SRC),
            *(
                e
                for pkg, kb in (
                    ("fastapi", 180),
                    ("pydantic", 240),
                    ("pydantic_core", 420),
                    ("uvicorn", 90),
                )
                for e in (
                    _d(f"{site_packages}/{pkg}", mtime=MTIME_SRC),
                    _f(
                        f"{site_packages}/{pkg}/__init__.py",
                        _text(f"pip-{pkg}", kb << 9),
                        mtime=MTIME_SRC,
                    ),
                    _f(
                        f"{site_packages}/{pkg}/_speedups.so",
                        _elf(f"so-{pkg}", kb << 9),
                        0o755,
                        mtime=MTIME_SRC,
                    ),
                )
            ),
        ]
    )
    api_app = b.layer(
        [
            _d("app", mtime=MTIME_SRC),
            _d("app/api", mtime=MTIME_SRC),
            _f("app/api/__init__.py", '"""Demo API."""\n__version__ = "2.0"\n', mtime=MTIME_SRC),
            _f("app/api/__main__.py", "from api.server import main\n\nmain()\n", mtime=MTIME_SRC),
            _f("app/api/routes.py", _text("routes", 14 << 10), mtime=MTIME_SRC),
            _f("app/api/server.py", _text("server", 9 << 10), mtime=MTIME_SRC),
            _f("app/requirements.txt", requirements, mtime=MTIME_SRC),
        ],
        compression="tar",
    )
    api = b.image(
        [
            _nop(f"MAINTAINER {maintainer}"),
            _nop("ARG VERSION=dev"),
            _nop("ENV PYTHONUNBUFFERED=1 APP_HOME=/app"),
            _classic_run(
                'apk add --no-cache python3 py3-pip && echo "$VERSION" > /etc/api-version',
                api_python,
                41,
                args,
            ),
            _Step("/bin/sh -c #(nop) WORKDIR /app", api_workdir),
            _classic_copy("file", hashlib.sha256(requirements).hexdigest(), "/app/", api_req),
            _classic_run("pip install --no-cache-dir -r requirements.txt", api_pip, 63, args),
            _classic_copy("dir", api_app.tar_hex, "/app", api_app),
            _nop("VOLUME [/var/lib/api]"),
            _nop("EXPOSE 8080"),
            _nop("ONBUILD RUN pip install --no-cache-dir -r /app/requirements.txt"),
            _nop("STOPSIGNAL SIGTERM"),
            _nop('ENTRYPOINT ["python3" "-m" "api"]'),
            _nop('CMD ["--port" "8080"]'),
        ],
        started=timedelta(hours=6),
        base=base,
        base_name="demo/base:1.0",
        author=maintainer,
        runtime=_runtime(
            ExposedPorts={"8080/tcp": {}},
            Env=[PATH_ENV, "PYTHONUNBUFFERED=1", "APP_HOME=/app"],
            Cmd=["--port", "8080"],
            Volumes={"/var/lib/api": {}},
            WorkingDir="/app",
            Entrypoint=["python3", "-m", "api"],
            OnBuild=["RUN pip install --no-cache-dir -r /app/requirements.txt"],
            StopSignal="SIGTERM",
        ),
    )

    # demo/worker:dev, BuildKit, with its Dockerfile kept
    worker_deps = b.layer(
        [
            *_python(
                MTIME_SRC,
                extra_users="worker:x:1000:1000:Linux User,,,:/home/worker:/bin/sh\n",
                extra_groups="worker:x:1000:worker\n",
            ),
            _d("home/worker", 0o2755, uid=1000, gid=1000, mtime=MTIME_SRC),
        ]
    )
    worker_workdir = b.layer([_d("app", mtime=MTIME_SRC)])
    worker_app = b.layer(
        [
            _d("app", mtime=MTIME_SRC),
            _f("app/Dockerfile", WORKER_DOCKERFILE, mtime=MTIME_SRC),
            _d("app/worker", mtime=MTIME_SRC),
            _f("app/worker/__init__.py", "def ping() -> None:\n    pass\n", mtime=MTIME_SRC),
            _f("app/worker/__main__.py", _text("worker-main", 6 << 10), mtime=MTIME_SRC),
            _f("app/worker/tasks.py", _text("worker-tasks", 40 << 10), mtime=MTIME_SRC),
            _f("app/worker/vendor.bin", _noise("worker-vendor", 200 << 10), mtime=MTIME_SRC),
        ],
        compression="zstd",
    )
    worker_labels = {
        "org.opencontainers.image.title": "worker",
        "org.opencontainers.image.version": "dev",
    }
    worker = b.image(
        [
            _bk("ARG PYTHON=python3"),
            _bk("LABEL org.opencontainers.image.title=worker org.opencontainers.image.version=dev"),
            _bk("ENV QUEUE=default CONCURRENCY=4"),
            _bk(
                "RUN |1 PYTHON=python3 /bin/sh -c apk add --no-cache ${PYTHON} && "
                "adduser -D -u 1000 worker # buildkit",
                worker_deps,
                27,
            ),
            _bk("WORKDIR /app", worker_workdir),
            _bk("COPY . /app # buildkit", worker_app, 2),
            _bk("SHELL [/bin/sh -eu -c]"),
            _bk("USER worker"),
            _bk("EXPOSE map[9100/tcp:{}]"),
            _bk(
                'HEALTHCHECK &{["CMD" "python3" "-c" "import worker; worker.ping()"] "1m0s" "10s" '
                '"0s" "0s" \'\\x00\'}'
            ),
            _bk("STOPSIGNAL SIGINT"),
            _bk('ENTRYPOINT ["python3" "-m" "worker"]'),
            _bk('CMD ["--queue" "default"]'),
        ],
        started=timedelta(hours=1),
        base=base,
        base_name="demo/base:1.0",
        dockerfile=WORKER_DOCKERFILE,
        runtime=_runtime(
            User="worker",
            ExposedPorts={"9100/tcp": {}},
            Env=[PATH_ENV, "QUEUE=default", "CONCURRENCY=4"],
            Cmd=["--queue", "default"],
            Healthcheck={
                "Test": ["CMD", "python3", "-c", "import worker; worker.ping()"],
                "Interval": 60 * SECOND,
                "Timeout": 10 * SECOND,
            },
            WorkingDir="/app",
            Entrypoint=["python3", "-m", "worker"],
            OnBuild=["COPY . /app"],  # BuildKit keeps ONBUILD in the config only, not in history
            Labels=worker_labels,
            StopSignal="SIGINT",
            Shell=["/bin/sh", "-eu", "-c"],
        ),
    )

    # demo/data:3.1, wasted space: overwrite, delete, replace a directory
    t = MTIME_SRC
    fetch = b.layer(
        [
            _d("data", mtime=t),
            _d("data/cache", mtime=t),
            _f("data/cache/a.idx", _noise("idx-a", 100 << 10), mtime=t),
            _f("data/cache/b.idx", _noise("idx-b", 100 << 10), mtime=t),
            _f("data/model.bin", _noise("model-v1", 2560 << 10), mtime=t),
            _d("opt/tool", mtime=t),
            _f("opt/tool/README", "tool: scores inputs against /data/model.bin\n", mtime=t),
            _f("opt/tool/debug.log", _text("debug-log", 600 << 10), mtime=t),
            _f("opt/tool/tool", _elf("tool", 200 << 10), 0o755, mtime=t),
        ]
    )
    model_v2 = b.layer(
        [
            _d("data", mtime=t + 60),
            _f("data/model.bin", _noise("model-v2", 2560 << 10), 0o600, mtime=t + 60),
        ]
    )
    drop_log = b.layer([_d("opt/tool", mtime=t + 120), _whiteout("opt/tool/debug.log", t + 120)])
    fresh_cache = b.layer(
        [
            _d("data", mtime=t + 180),
            _d("data/cache", mtime=t + 180),
            _opaque("data/cache", t + 180),
            _f("data/cache/README", "fresh\n", mtime=t + 180),
        ]
    )
    data = b.image(
        [
            _bk(
                "RUN /bin/sh -c mkdir -p /data/cache /opt/tool && wget -qO /data/model.bin "
                "https://models.example.com/model-v1.bin && wget -qO- "
                "https://tools.example.com/tool.tar.gz | tar -xz -C /opt/tool # buildkit",
                fetch,
                52,
            ),
            _bk(
                "ADD https://models.example.com/model-v2.bin /data/model.bin # buildkit",
                model_v2,
                31,
            ),
            _bk("RUN /bin/sh -c rm /opt/tool/debug.log # buildkit", drop_log, 2),
            _bk(
                "RUN /bin/sh -c rm -rf /data/cache && mkdir /data/cache && "
                "echo fresh > /data/cache/README # buildkit",
                fresh_cache,
                2,
            ),
            _bk("ENV MODEL_PATH=/data/model.bin"),
            _bk('CMD ["/opt/tool/tool" "--model" "/data/model.bin"]'),
        ],
        started=9 * day,
        base=base,
        base_name="demo/base:1.0",
        runtime=_runtime(
            Env=[PATH_ENV, "MODEL_PATH=/data/model.bin"],
            Cmd=["/opt/tool/tool", "--model", "/data/model.bin"],
        ),
    )

    named = [
        ("demo/base:1.0", base),
        ("demo/base:latest", base),
        ("demo/web:1.2", web_new),
        ("demo/api:2.0", api),
        ("demo/worker:dev", worker),
        ("demo/data:3.1", data),
    ]
    return named, web_old


def make_demo(store: Store, *, now: datetime | None = None) -> list[str]:
    """Put the sample images into `store`; returns the familiar names tagged, in order."""
    when = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    # The shared ingest lock keeps a concurrent prune from sweeping blobs not yet named.
    with store.ingesting():
        named, dangling = _build_all(_Builder(store, when))
        _name_all(store, named, dangling)
    return [familiar(normalize(name)) for name, _ in named]


def _name_all(store: Store, named: list[tuple[str, Any]], dangling: Any) -> None:
    """All names in one index change, after every blob is written."""
    web_name = normalize("demo/web:1.2")
    with store.locked() as index:
        # The old build of demo/web gets the tag first, then loses it to the new one: it stays
        # as <none>:<none>, as docker leaves it. Once it is in the index, a re-run skips this.
        if dangling.manifest.digest not in index.manifests():
            index.set_name(web_name, dangling.manifest)
        for name, image in named:
            index.set_name(normalize(name), image.manifest)
        index.add_dangling(dangling.manifest)
        keep = {image.manifest.digest for _, image in named} | {dangling.manifest.digest}
        _drop_stale(store, index, keep)


def _drop_stale(store: Store, index: Index, keep: set[str]) -> None:
    """Forget nameless demo manifests of earlier runs, so re-runs never pile up copies."""
    for entry in list(index.entries):
        if entry.name or entry.digest in keep:
            continue
        try:
            manifest = store.read_manifest(entry.digest)
        except (StoreError, FormatError, OSError):
            continue
        if manifest.annotations.get(DEMO_ANNOTATION) == "true":
            index.remove_manifest(entry.digest)
