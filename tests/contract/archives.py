"""Backend-neutral test images: `docker save` archives, and per-test variants of them.

The session builds a few images ONCE on the test engine and saves them as docker-archive tar
files. A test never shares an image id with another test: `variant()` rewrites an archive's config
(a nonce label, optionally an older `created`, optionally one extra layer of random bytes) and its
RepoTags, so every test gets images with their own ids while the heavy layers stay shared. The
result is loaded with `backend.load()`, which works the same for the docker daemon and for the
built-in store.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from tests.conftest import BASE_REPO, build_image

# The images every contract test draws from: name -> Dockerfile ("base" is the session base image).
LAYERED_DOCKERFILE = f"""\
FROM {BASE_REPO}:latest
RUN echo hello > /hello.txt
RUN dd if=/dev/zero of=/blob bs=1024 count=64 2>/dev/null
ENV GREETING=hi
"""

CONFIGURED_DOCKERFILE = f"""\
FROM {BASE_REPO}:latest
LABEL org.example.role=contract-test org.example.version=1.2
ENV APP_HOME=/srv/app MODE=test
WORKDIR /srv/app
RUN echo configured > /srv/app/marker
EXPOSE 8080/tcp 53/udp
USER nobody
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hello"]
"""

DOCKERFILES = {"layered": LAYERED_DOCKERFILE, "configured": CONFIGURED_DOCKERFILE}
NONCE_LABEL = "org.imgtui.test.nonce"
UNIQUE_LAYER_BYTES = 48 * 1024


@dataclass(frozen=True)
class SourceArchive:
    """One saved image: where its archive is and the config it holds."""

    name: str
    path: Path
    tag: str  # the RepoTag inside the archive
    id: str
    config: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class LoadedImage:
    """An image a test put into the backend: its id, its refs, and the exact config loaded."""

    id: str
    refs: tuple[str, ...]
    config: Mapping[str, Any] = field(hash=False, repr=False)
    extra_layer_bytes: int = 0

    @property
    def ref(self) -> str:
        """The first ref, or the id when the image was loaded without a tag."""
        return self.refs[0] if self.refs else self.id

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(self.config["rootfs"]["diff_ids"])

    @property
    def created(self) -> datetime:
        return parse_created(self.config["created"])


def parse_created(text: str) -> datetime:
    """An RFC 3339 timestamp with up to nanoseconds, as a tz-aware datetime."""
    head, _, rest = text.partition(".")
    frac = ""
    if rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        frac = "." + digits[:6]
    return datetime.fromisoformat(head.rstrip("Z") + frac).replace(tzinfo=timezone.utc)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _read_manifest(tar: tarfile.TarFile) -> list[dict[str, Any]]:
    member = tar.extractfile("manifest.json")
    assert member is not None, "archive without manifest.json"
    return json.loads(member.read())


def config_bytes(path: Path) -> bytes:
    """The image config of the (first) image in a docker archive, byte for byte."""
    with tarfile.open(path) as tar:
        f = tar.extractfile(_read_manifest(tar)[0]["Config"])
        assert f is not None
        return f.read()


def archive_manifest(path: Path) -> list[dict[str, Any]]:
    with tarfile.open(path) as tar:
        return _read_manifest(tar)


def build_sources(docker_client: Any, workdir: Path) -> dict[str, SourceArchive]:
    """Build the contract images on the engine once and save each to `workdir/<name>.tar`."""
    session = uuid.uuid4().hex[:8]
    api = docker_client.api
    out: dict[str, SourceArchive] = {}
    targets = {"base": f"{BASE_REPO}:latest"}
    for name, dockerfile in DOCKERFILES.items():
        ctx = workdir / f"ctx-{name}"
        ctx.mkdir()
        tag = f"imgtui-test/contract-{session}:{name}"
        build_image(docker_client, ctx, tag, dockerfile)
        targets[name] = tag
    for name, tag in targets.items():
        path = workdir / f"{name}.tar"
        with path.open("wb") as f:
            for chunk in api.get_image(tag):
                f.write(chunk)
        raw = config_bytes(path)
        # The image id is the digest of the config bytes exactly as saved.
        out[name] = SourceArchive(name, path, tag, _sha256(raw), json.loads(raw))
    # The engine copies are not needed any more: tests load their own variants.
    for name, tag in targets.items():
        if name != "base":
            api.remove_image(tag, force=True)
    return out


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _random_layer(nonce: str, size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_add(tar, f"nonce-{nonce}.bin", os.urandom(size))
    return buf.getvalue()


def variant(
    source: SourceArchive,
    dest: Path,
    refs: Sequence[str],
    *,
    created: datetime | None = None,
    extra_layer: bool = False,
    labels: Mapping[str, str] | None = None,
) -> LoadedImage:
    """Write `dest`: `source` with a fresh image id, tagged `refs` (none: a dangling image)."""
    nonce = uuid.uuid4().hex
    config = copy.deepcopy(dict(source.config))
    cfg = config.setdefault("config", {})
    cfg["Labels"] = {**(cfg.get("Labels") or {}), **(labels or {}), NONCE_LABEL: nonce}
    if created is not None:
        stamp = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        config["created"] = stamp
        for h in config.get("history") or ():
            h["created"] = stamp
    layer_data = b""
    if extra_layer:
        layer_data = _random_layer(nonce, UNIQUE_LAYER_BYTES)
        config["rootfs"]["diff_ids"].append(_sha256(layer_data))
        config.setdefault("history", []).append(
            {"created": config["created"], "created_by": f"imgtui-test: unique layer {nonce[:8]}"}
        )
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    image_id = _sha256(config_bytes)
    with tarfile.open(source.path) as src, tarfile.open(dest, "w") as out:
        manifest = _read_manifest(src)[0]
        for member in src.getmembers():
            if member.name in ("manifest.json", "repositories", manifest["Config"]):
                continue
            out.addfile(member, src.extractfile(member) if member.isfile() else None)
        _tar_add(out, f"{image_id.removeprefix('sha256:')}.json", config_bytes)
        layers = list(manifest["Layers"])
        if extra_layer:
            layer_dir = hashlib.sha256(layer_data).hexdigest()
            dir_info = tarfile.TarInfo(layer_dir)
            dir_info.type = tarfile.DIRTYPE
            dir_info.mode = 0o755
            out.addfile(dir_info)
            _tar_add(out, f"{layer_dir}/layer.tar", layer_data)
            layers.append(f"{layer_dir}/layer.tar")
        new_manifest = [
            {
                "Config": f"{image_id.removeprefix('sha256:')}.json",
                "RepoTags": list(refs) or None,
                "Layers": layers,
            }
        ]
        _tar_add(out, "manifest.json", json.dumps(new_manifest).encode())
    return LoadedImage(
        image_id, tuple(refs), config, extra_layer_bytes=UNIQUE_LAYER_BYTES if extra_layer else 0
    )


def read_file(archive: Path, path: str) -> bytes | None:
    """The content of `path` in the image saved in `archive` (topmost layer wins), or None."""
    want = PurePosixPath(path.lstrip("/"))
    whiteout = str(want.parent / f".wh.{want.name}")
    with tarfile.open(archive) as tar:
        manifest = _read_manifest(tar)
        for layer_name in reversed(manifest[0]["Layers"]):
            layer = tar.extractfile(layer_name)
            assert layer is not None
            with tarfile.open(fileobj=io.BytesIO(layer.read())) as lt:
                for m in lt.getmembers():
                    name = str(PurePosixPath(m.name.lstrip("./")))
                    if name == whiteout:
                        return None
                    if name == str(want) and m.isfile():
                        f = lt.extractfile(m)
                        assert f is not None
                        return f.read()
    return None
