"""Building small images straight through the Store API, for the gc and fault tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

from imgtui.store import oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar holding `files`, byte-for-byte reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_image(
    store: Store,
    layers: Sequence[bytes],
    *,
    dockerfile: bytes | None = None,
    created: str = "2024-01-01T00:00:00Z",
) -> Descriptor:
    """Write an image's blobs (layers, config, manifest); nothing names it yet."""
    layer_descs = []
    for data in layers:
        digest, size = store.write_blob(data, expected_digest=_sha256(data))
        layer_descs.append(Descriptor(oci.OCI_LAYER, digest, size))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layer_descs]},
        "history": [{"created": created, "created_by": f"COPY {i}"} for i in range(len(layers))],
    }
    config_digest, config_size = store.write_json_blob(config)
    annotations = {}
    if dockerfile is not None:
        annotations[oci.DOCKERFILE_ANNOTATION] = store.write_blob(dockerfile)[0]
    manifest = oci.Manifest(
        oci.OCI_MANIFEST,
        Descriptor(oci.OCI_CONFIG, config_digest, config_size),
        tuple(layer_descs),
        annotations,
    )
    digest, size = store.write_json_blob(manifest.to_json())
    return Descriptor(oci.OCI_MANIFEST, digest, size)


def add_image(store: Store, name: str | None, layers: Sequence[bytes], **kw: object) -> Descriptor:
    """Write an image and name it (or keep it dangling when name is None)."""
    with store.ingesting():
        desc = write_image(store, layers, **kw)  # type: ignore[arg-type]
        with store.locked() as index:
            if name is None:
                index.add_dangling(desc)
            else:
                index.set_name(name, desc)
    return desc


def write_orphan(store: Store, data: bytes) -> str:
    """A blob nothing references, written directly (fast: no fsync) as a killed load leaves it."""
    digest = _sha256(data)
    (store.blobs / digest.split(":", 1)[1]).write_bytes(data)
    return digest


def names(store: Store) -> dict[str, str]:
    """name -> manifest digest, from index.json."""
    return {n: e.digest for n, e in store.read_index().named().items()}


def index_parses(store: Store) -> None:
    """index.json exists and is JSON (read_index also checks its shape)."""
    json.loads((store.root / "index.json").read_bytes())
    store.read_index()


def blob_file(store: Store, digest: str) -> Path:
    return store.blobs / digest.split(":", 1)[1]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
