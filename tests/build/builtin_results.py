"""Build corpus cases with imgtui's daemonless builder and read back what engine_results reads.

The base image of the corpus (`imgtui-test/busybox:latest`) is copied once from the test engine
into a seed store (`docker save` → `imgtui load`); each build gets a copy of that seed, so cases
share no cache. `OurBuild` mirrors EngineBuild: config, author, history (oldest first, with
`empty_layer`) and every layer's entries in engine_results' Entry shape.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgtui import reference
from imgtui.backends.base import BuildOptions, BuildResult
from imgtui.backends.builtin import BuiltinBackend
from imgtui.build.tree import decompressed
from imgtui.store.layout import Store
from imgtui.store.oci import RUNTIME_CONFIG_KEYS
from tests.build.corpus import Case, materialize
from tests.build.engine_results import Entry, _ChunkReader, _layer_entries

_HASH = re.compile(r"(file|dir|multi):[0-9a-f]{64}")


@dataclass
class OurBuild:
    """imgtui's result for one case (or the error it raised)."""

    ok: bool
    error: str = ""
    output: str = ""
    image_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    author: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[tuple[Entry, ...]] = field(default_factory=list)
    backend: BuiltinBackend | None = None


def seed_store(client: Any, base_ref: str, dest: Path) -> Path:
    """A store holding the engine's base image, loaded from its `docker save`."""
    archive = dest.parent / "base.tar"
    with archive.open("wb") as f:
        for chunk in client.api.get_image(base_ref, chunk_size=1 << 20):
            f.write(chunk)
    backend = BuiltinBackend(dest)
    list(backend.load(archive))
    backend.close()
    return dest


def build_case(case: Case, seed: Path, workdir: Path, *, tag: str = "corpus:case") -> OurBuild:
    """Build `case` in a copy of the seed store; errors are returned, not raised."""
    store_dir = workdir / "store"
    shutil.copytree(seed, store_dir, symlinks=True)
    context = materialize(case, workdir / "ctx")
    backend = BuiltinBackend(store_dir)
    options = BuildOptions(
        context=context,
        tags=(tag,),
        build_args=dict(case.build_args),
        target=case.target,
        network_mode="none",
    )
    output: list[str] = []
    result: BuildResult | None = None
    try:
        for event in backend.build(options):
            if isinstance(event, BuildResult):
                result = event
            else:
                output.append(str(getattr(event, "text", "")))
    except Exception as e:
        return OurBuild(False, error=str(e), output="".join(output), backend=backend)
    assert result is not None
    store = Store.open(store_dir)
    manifest_digest = store.read_index().get(reference.normalize(tag)).digest
    manifest = store.read_manifest(manifest_digest)
    config = store.read_config(manifest.config.digest)
    layers = []
    for layer in manifest.layers:
        with store.open_blob(layer.digest) as raw:
            layers.append(_layer_entries(decompressed(raw)))
    return OurBuild(
        True,
        output="".join(output),
        image_id=result.image_id,
        config=dict(config.get("config") or {}),
        author=str(config.get("author") or ""),
        history=list(config.get("history") or []),
        layers=layers,
        backend=backend,
    )


def engine_history(client: Any, image_id: str) -> list[dict[str, Any]]:
    """The engine image's history as its config stores it (oldest first, with empty_layer)."""
    raw = io.BufferedReader(_ChunkReader(client.api.get_image(image_id, chunk_size=1 << 20)))
    with tarfile.open(fileobj=raw, mode="r|") as outer:
        for m in outer:
            if m.name.endswith(".json") and m.name != "manifest.json" and "/" not in m.name:
                f = outer.extractfile(m)
                assert f is not None
                data = json.load(f)
                if "history" in data:
                    return list(data["history"])
    raise AssertionError(f"docker save of {image_id} holds no image config")


def config_view(config: dict[str, Any]) -> dict[str, Any]:
    """The Dockerfile-controlled fields, empty values as None (the engine writes null or omits)."""
    out = {}
    for name in RUNTIME_CONFIG_KEYS:
        value = config.get(name)
        if isinstance(value, dict) and name in ("ExposedPorts", "Volumes"):
            value = sorted(value)
        out[name] = value or None
    return out


def history_view(history: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(created_by with source hashes masked, empty_layer) for every step."""
    return [
        (_HASH.sub(r"\1:<hash>", h.get("created_by", "")), bool(h.get("empty_layer")))
        for h in history
    ]
