"""Small images written straight into a store (no engine): real tar+gzip layers, own config."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from imgtui.store import oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor


def layer_tar(seed: str, size: int) -> bytes:
    """An uncompressed layer: one file of incompressible bytes derived from `seed`."""
    data = _noise(seed, size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(f"data/{hashlib.sha256(seed.encode()).hexdigest()[:12]}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _noise(seed: str, size: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def make_image(
    store: Store,
    name: str | None,
    seed: str,
    *,
    layers: int = 2,
    layer_size: int = 64 << 10,
    arch: str = "amd64",
    docker_types: bool = False,
) -> Descriptor:
    """An image of `layers` fresh layers, named `name` (full reference) when given."""
    diff_ids, descs = [], []
    for i in range(layers):
        raw = layer_tar(f"{seed}-{i}", layer_size)
        gz = gzip.compress(raw, compresslevel=1, mtime=0)
        digest, size = store.write_blob(gz)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        media = oci.DOCKER_LAYER_GZIP if docker_types else oci.OCI_LAYER_GZIP
        descs.append(Descriptor(media, digest, size))
    config = {
        "created": "2024-01-02T03:04:05Z",
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i} of {seed}"}
            for i in range(layers)
        ],
    }
    cdigest, csize = store.write_json_blob(config)
    manifest = oci.Manifest(
        oci.DOCKER_MANIFEST if docker_types else oci.OCI_MANIFEST,
        Descriptor(oci.DOCKER_CONFIG if docker_types else oci.OCI_CONFIG, cdigest, csize),
        tuple(descs),
    )
    mdigest, msize = store.write_json_blob(manifest.to_json())
    desc = Descriptor(manifest.media_type, mdigest, msize)
    with store.locked() as index:
        if name:
            index.set_name(name, desc)
        else:
            index.add_dangling(desc)
    return desc


def oci_layout_with_index(dest: Path, seed: str, arches: tuple[str, ...]) -> str:
    """An OCI layout whose index.json holds one image index of `arches`; returns its digest.

    skopeo copies it with `--all` as a multi-platform image.
    """
    store = Store.open(dest / "work")
    entries = []
    for arch in arches:
        d = make_image(store, None, f"{seed}-{arch}", layers=1, arch=arch)
        entries.append({**d.to_json(), "platform": {"os": "linux", "architecture": arch}})
    index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": entries}
    digest, size = store.write_json_blob(index)
    layout = dest / "layout"
    (layout / "blobs").mkdir(parents=True)
    os.rename(store.blobs, layout / "blobs" / "sha256")
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    top = {
        "mediaType": oci.OCI_INDEX,
        "digest": digest,
        "size": size,
        "annotations": {oci.REF_ANNOTATION: "multi"},
    }
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [top]})
    )
    return digest
