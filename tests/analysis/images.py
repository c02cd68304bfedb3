"""Hand-made images: layer tars, docker-save archives and OCI layouts with known contents."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

# An op of a layer: ("file", path, data[, mode]), ("dir", path), ("symlink", path, target),
# ("hardlink", path, target), ("whiteout", path), ("opaque", dir).
Op = tuple

BASE: list[Op] = [
    ("dir", "bin"),
    ("file", "bin/busybox", b"B" * 40_000, 0o755),
    ("symlink", "bin/sh", "busybox"),
    ("dir", "etc"),
    ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    ("dir", "var"),
    ("dir", "var/cache"),
    ("file", "var/cache/a.bin", b"a" * 10_000),
    ("file", "var/cache/b.bin", b"b" * 20_000),
    ("dir", "opt"),
    ("dir", "opt/app"),
    ("file", "opt/app/old.txt", b"old" * 1000),
]

# Overwrites, removals through whiteouts (a file and a folder), an opaque folder, links.
LAYERS: list[list[Op]] = [
    BASE,
    [
        ("dir", "etc"),
        ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"),
        ("file", "big.dat", b"x" * 300_000),
        ("hardlink", "big.link", "big.dat"),
        ("symlink", "etc/alias", "/etc/passwd"),
    ],
    [
        ("whiteout", "big.dat"),
        ("whiteout", "var/cache"),
        ("dir", "opt"),
        ("opaque", "opt/app"),
        ("dir", "opt/app"),
        ("file", "opt/app/new.txt", b"new" * 500),
        ("file", "bin/busybox", b"C" * 40_000, 0o755),
    ],
]

CONFIG_EXTRA = {
    "Env": ["PATH=/bin", "A=1"],
    "Cmd": ["sh"],
    "WorkingDir": "/opt/app",
    "Labels": {"x": "1"},
}


def layer_tar(ops: Sequence[Op], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for op in ops:
            kind, path = op[0], op[1]
            info = tarfile.TarInfo(path)
            info.mtime = 0
            data = None
            if kind == "file":
                data = op[2]
                info.size = len(data)
                info.mode = op[3] if len(op) > 3 else 0o644
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = op[2]
                info.mode = 0o777
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = op[2]
            elif kind in ("whiteout", "opaque"):
                head, _, base = path.rpartition("/")
                name = ".wh..wh..opq" if kind == "opaque" else ".wh." + base
                if kind == "opaque":
                    head = path
                info = tarfile.TarInfo(f"{head}/{name}" if head else name)
                info.mtime = 0
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(tars: Sequence[bytes], extra: dict | None = None) -> bytes:
    history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(tars))]
    history.insert(1, {"created_by": "/bin/sh -c #(nop) ENV A=1", "empty_layer": True})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {**CONFIG_EXTRA, **(extra or {})},
        "rootfs": {"type": "layers", "diff_ids": [_sha(t) for t in tars]},
        "history": history,
    }
    return json.dumps(config).encode()


def docker_archive(
    path: Path,
    layers: Sequence[Sequence[Op]],
    *,
    tag: str = "test/img:1",
    extra: dict | None = None,
) -> str:
    """A classic `docker save` tar (<id>/layer.tar); returns the config digest."""
    tars = [layer_tar(ops) for ops in layers]
    config = image_config(tars, extra)
    cid = hashlib.sha256(config).hexdigest()
    with tarfile.open(path, "w") as out:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))

        names = []
        for t in tars:
            lid = hashlib.sha256(t).hexdigest()
            add(f"{lid}/layer.tar", t)
            names.append(f"{lid}/layer.tar")
        add(f"{cid}.json", config)
        add(
            "manifest.json",
            json.dumps([{"Config": f"{cid}.json", "RepoTags": [tag], "Layers": names}]).encode(),
        )
    return "sha256:" + cid


def _oci_image(root: Path, layers: Sequence[Sequence[Op]], gzip_layers: bool) -> tuple[str, dict]:
    """Blobs of one image in an OCI layout folder: (config digest, manifest descriptor)."""
    tars = [layer_tar(ops) for ops in layers]
    config = image_config(tars)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        d = _sha(data)
        (blobs / d.split(":")[1]).write_bytes(data)
        return d

    descs = []
    for t in tars:
        blob = gzip.compress(t, mtime=0) if gzip_layers else t
        mt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else "")
        descs.append({"mediaType": mt, "digest": put(blob), "size": len(blob)})
    cdig = put(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cdig,
                "size": len(config),
            },
            "layers": descs,
        }
    ).encode()
    desc = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put(manifest),
        "size": len(manifest),
    }
    return cdig, desc


def _write_index(root: Path, entries: list[dict]) -> None:
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def oci_layout(
    root: Path, layers: Sequence[Sequence[Op]], *, tag: str = "1", gzip_layers: bool = True
) -> str:
    """An OCI image layout folder (gzip layers by default); returns the config digest."""
    cdig, desc = _oci_image(root, layers, gzip_layers)
    _write_index(root, [{**desc, "annotations": {"org.opencontainers.image.ref.name": tag}}])
    return cdig


def oci_multiarch(root: Path) -> dict[str, str]:
    """An OCI layout whose one entry is an image index of a linux/amd64 and a linux/arm64
    image with different contents; returns {platform: config digest}."""
    digests = {}
    children = []
    for arch, layers in (("amd64", LAYERS[:1]), ("arm64", LAYERS)):
        cdig, desc = _oci_image(root, layers, True)
        digests[f"linux/{arch}"] = cdig
        children.append({**desc, "platform": {"os": "linux", "architecture": arch}})
    nested = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": children,
        }
    ).encode()
    ndig = _sha(nested)
    (root / "blobs" / "sha256" / ndig[7:]).write_bytes(nested)
    _write_index(
        root,
        [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": ndig,
                "size": len(nested),
                "annotations": {"org.opencontainers.image.ref.name": "multi"},
            }
        ],
    )
    return digests


def oci_archive(path: Path, workdir: Path, layers: Sequence[Sequence[Op]]) -> str:
    """An OCI layout in a tar (oci-archive:); returns the config digest."""
    digest = oci_layout(workdir, layers)
    with tarfile.open(path, "w") as out:
        for p in sorted(workdir.rglob("*")):
            out.add(p, arcname=str(p.relative_to(workdir)), recursive=False)
    return digest
