"""Write a new image into the store: config and manifest blobs, then names under the lock.

Used by `commit` (a container's changes on top of its image) and by the builder: both end with
layers already stored as blobs and a config to write. The names are set only after every blob is
written, so a crash leaves unreferenced blobs (swept by prune), never a half image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from imgtui.store import oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor


def write_image(
    store: Store,
    config: Mapping[str, Any],
    layers: Sequence[Descriptor],
    names: Sequence[str] = (),
    *,
    annotations: Mapping[str, str] | None = None,
) -> tuple[str, Descriptor]:
    """(image id, manifest descriptor) of a new OCI image named `names` (normalized refs).

    No names: the image is kept as dangling (`<none>`), as docker keeps an untagged commit.
    Callers hold `store.ingesting()` from their first layer blob until this returns, so a prune
    in between cannot sweep blobs that nothing names yet.
    """
    with store.ingesting():
        config_digest, config_size = store.write_json_blob(dict(config))
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [d.to_json() for d in layers],
        }
        if annotations:
            manifest["annotations"] = dict(annotations)
        digest, size = store.write_json_blob(manifest)
        target = Descriptor(oci.OCI_MANIFEST, digest, size)
        with store.locked() as index:
            for name in names:
                index.set_name(name, target)
            if not names:
                index.add_dangling(target)
    return config_digest, target
