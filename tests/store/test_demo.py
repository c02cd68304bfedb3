"""`imgtui demo`: a valid OCI layout of realistic images that skopeo and umoci read."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import zstandard

from imgtui.analysis.dockerfile import instruction_from_created_by
from imgtui.demo import DEMO_ANNOTATION, make_demo
from imgtui.reference import normalize
from imgtui.store import oci
from imgtui.store.layers import layer_info
from imgtui.store.layout import Store

NOW = datetime(2025, 6, 15, 12, 30, tzinfo=timezone.utc)
NAMES = [
    "demo/base:1.0",
    "demo/base:latest",
    "demo/web:1.2",
    "demo/api:2.0",
    "demo/worker:dev",
    "demo/data:3.1",
]
TAGS = ["1.0", "latest", "1.2", "2.0", "dev", "3.1"]


@dataclass
class Image:
    digest: str
    names: list[str]
    manifest: oci.Manifest
    config: dict[str, Any]


def images(store: Store) -> dict[str, Image]:
    """Every image of the index, by manifest digest."""
    out: dict[str, Image] = {}
    for entry in store.read_index().entries:
        if entry.digest not in out:
            manifest = store.read_manifest(entry.digest)
            config = store.read_config(manifest.config.digest)
            out[entry.digest] = Image(entry.digest, [], manifest, config)
        if entry.name:
            out[entry.digest].names.append(entry.name)
    return out


def by_name(store: Store, familiar_name: str) -> Image:
    name = normalize(familiar_name)
    return next(i for i in images(store).values() if name in i.names)


def layer_tar(store: Store, desc: oci.Descriptor) -> bytes:
    """The uncompressed tar, decoded by media type (not by sniffing) to check the media types."""
    blob = store.blob_path(desc.digest).read_bytes()
    if desc.media_type == oci.OCI_LAYER_GZIP:
        return gzip.decompress(blob)
    if desc.media_type == oci.OCI_LAYER_ZSTD:
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    assert desc.media_type == oci.OCI_LAYER, desc.media_type
    return blob


def members(store: Store, desc: oci.Descriptor) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(layer_tar(store, desc))) as tar:
        return tar.getnames()


def created(text: str) -> datetime:
    """Go's RFC 3339 with nanoseconds, cut to what datetime holds."""
    whole, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=timezone.utc) + timedelta(
        microseconds=int((frac + "000000")[:6])
    )


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; the interop tests need it", pytrace=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("demo") / "store")
    assert make_demo(store, now=NOW) == NAMES
    return store


def test_names_and_one_dangling_image(store: Store) -> None:
    found = images(store)
    named = sorted(n for i in found.values() for n in i.names)
    assert named == sorted(normalize(n) for n in NAMES)
    dangling = [i for i in found.values() if not i.names]
    assert len(dangling) == 1
    assert by_name(store, "demo/base:1.0").digest == by_name(store, "demo/base:latest").digest
    assert len(store.read_index().entries) == len(NAMES) + 1
    # the dangling image is the previous build of demo/web, which shares all but its site layer
    old, new = dangling[0], by_name(store, "demo/web:1.2")
    assert old.config["config"]["Labels"]["org.opencontainers.image.version"] == "1.1"
    assert len(set(old.manifest.layers) ^ set(new.manifest.layers)) == 2
    assert created(old.config["created"]) < created(new.config["created"])


def test_every_referenced_blob_is_present_and_right(store: Store) -> None:
    index = store.read_index()
    marked, problems = store.referenced(index)
    assert problems == []
    descriptors = [e.descriptor for e in index.entries]
    for image in images(store).values():
        descriptors += [image.manifest.config, *image.manifest.layers]
    for desc in descriptors:
        data = store.blob_path(desc.digest).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == desc.digest
        assert len(data) == desc.size
    # nothing else was written: every blob is reachable, no temp file is left
    assert set(store.all_blobs()) == marked
    assert list(store.tmp.iterdir()) == []


def test_diff_ids_are_the_uncompressed_layers(store: Store) -> None:
    media_types = Counter()
    for image in images(store).values():
        diff_ids = image.config["rootfs"]["diff_ids"]
        assert image.config["rootfs"]["type"] == "layers"
        assert len(diff_ids) == len(image.manifest.layers)
        for desc, diff_id in zip(image.manifest.layers, diff_ids, strict=True):
            media_types[desc.media_type] += 1
            assert "sha256:" + hashlib.sha256(layer_tar(store, desc)).hexdigest() == diff_id
            cached = layer_info(store, desc.digest)  # remembered when written
            assert (cached.digest, cached.diff_id) == (desc.digest, diff_id)
    assert set(media_types) == {oci.OCI_LAYER_GZIP, oci.OCI_LAYER, oci.OCI_LAYER_ZSTD}


def test_configs_and_history_follow_docker(store: Store) -> None:
    for image in images(store).values():
        config = image.config
        assert (config["architecture"], config["os"]) == ("amd64", "linux")
        assert image.manifest.media_type == oci.OCI_MANIFEST
        assert image.manifest.config.media_type == oci.OCI_CONFIG
        assert image.manifest.annotations[DEMO_ANNOTATION] == "true"
        history = config["history"]
        # docker's rule: one non-empty history entry per layer
        assert sum(not h.get("empty_layer") for h in history) == len(config["rootfs"]["diff_ids"])
        assert config["created"] == history[-1]["created"]
        times = [created(h["created"]) for h in history]
        assert times == sorted(times)
        assert NOW - timedelta(days=91) <= times[0] and times[-1] <= NOW
        for h in history:
            buildkit = h["created_by"].endswith(" # buildkit") or not h["created_by"].startswith(
                ("/bin/sh -c", "|")
            )
            assert (h.get("comment") == "buildkit.dockerfile.v0") == buildkit, h
    api = by_name(store, "demo/api:2.0").config
    assert api["author"] == "Dana Ops <dana@example.com>"
    assert any(h["created_by"].startswith("|1 VERSION=2.0 /bin/sh -c ") for h in api["history"])
    assert api["config"]["Entrypoint"] == ["python3", "-m", "api"]
    assert api["config"]["Volumes"] == {"/var/lib/api": {}}
    web = by_name(store, "demo/web:1.2").config["config"]
    assert web["ExposedPorts"] == {"80/tcp": {}}
    assert web["Healthcheck"]["Test"][0] == "CMD-SHELL"
    assert (web["User"], web["WorkingDir"]) == ("nginx", "/srv/www")
    worker = by_name(store, "demo/worker:dev").config["config"]
    assert worker["Shell"] == ["/bin/sh", "-eu", "-c"]
    assert worker["OnBuild"] == ["COPY . /app"]


def test_history_covers_every_common_instruction(store: Store) -> None:
    keywords: set[str] = set()
    classic = buildkit = 0
    for image in images(store).values():
        for h in image.config["history"]:
            instruction = instruction_from_created_by(h["created_by"])
            keywords.add(instruction.split()[0])
            classic += "#(nop)" in h["created_by"]
            buildkit += h.get("comment") == "buildkit.dockerfile.v0"
    assert keywords >= {
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL"),
        *("MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"),
    }
    assert classic and buildkit


def test_base_layer_is_shared(store: Store) -> None:
    base = by_name(store, "demo/base:1.0").manifest.layers[0]
    sharing = [i for i in images(store).values() if i.manifest.layers[0] == base]
    assert len(sharing) >= 4  # base, web, its old build, api, worker, data
    names = members(store, base)
    for path in ("etc/os-release", "etc/passwd", "etc/group", "bin/sh", "usr/bin/unpigz"):
        assert path in names


def test_wasted_space_image_overwrites_and_deletes(store: Store) -> None:
    data = by_name(store, "demo/data:3.1")
    per_layer = [members(store, d) for d in data.manifest.layers[1:]]
    assert sum("data/model.bin" in m for m in per_layer) == 2  # written, then overwritten
    assert any("opt/tool/.wh.debug.log" in m for m in per_layer)
    assert any("opt/tool/debug.log" in m for m in per_layer)
    assert any("data/cache/.wh..wh..opq" in m for m in per_layer)
    assert any("data/cache/a.idx" in m for m in per_layer)


def test_original_dockerfile_is_kept(store: Store) -> None:
    worker = by_name(store, "demo/worker:dev")
    digest = worker.manifest.annotations[oci.DOCKERFILE_ANNOTATION]
    text = store.read_blob(digest).decode()
    assert text.startswith("FROM demo/base:1.0\n")
    assert 'CMD ["--queue", "default"]' in text


def test_rerun_is_a_no_op_and_a_later_run_replaces_the_set(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    make_demo(store, now=NOW)
    index_json = (store.root / "index.json").read_bytes()
    blobs = set(store.all_blobs())
    # within the same hour: the same ids, nothing rewritten
    assert make_demo(store, now=NOW + timedelta(minutes=20)) == NAMES
    assert (store.root / "index.json").read_bytes() == index_json
    assert set(store.all_blobs()) == blobs

    # a user's own name on a demo image survives later runs
    first = {e.name: e.descriptor for e in store.read_index().entries}
    with store.locked() as index:
        index.set_name("docker.io/library/mine:1", first[normalize("demo/api:2.0")])

    make_demo(store, now=NOW + timedelta(days=3))
    after = store.read_index().entries
    named = Counter(e.name for e in after if e.name)
    assert set(named) == {normalize(n) for n in NAMES} | {"docker.io/library/mine:1"}
    assert max(named.values()) == 1
    assert sum(1 for e in after if not e.name) == 1  # one dangling image, not two
    assert first[normalize("demo/api:2.0")].digest in {e.digest for e in after}
    assert by_name(store, "demo/web:1.2").digest != first[normalize("demo/web:1.2")].digest
    # layers do not depend on the date: the new images reuse them
    assert {d.digest for i in images(store).values() for d in i.manifest.layers} <= blobs


def test_skopeo_inspects_every_tag(store: Store) -> None:
    skopeo = tool("skopeo")
    found = images(store)
    for tag in TAGS:
        out = subprocess.run(
            [skopeo, "inspect", f"oci:{store.root}:{tag}"], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        image = found[doc["Digest"]]
        assert any(n.endswith(f":{tag}") for n in image.names)
        assert doc["Layers"] == [d.digest for d in image.manifest.layers]


def test_umoci_unpacks_base_and_applies_whiteouts(store: Store, tmp_path: Path) -> None:
    umoci = tool("umoci")
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    for tag, into in (("1.0", tmp_path / "base"), ("3.1", tmp_path / "data")):
        out = subprocess.run(
            [umoci, "unpack", *rootless, "--image", f"{store.root}:{tag}", str(into)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
    rootfs = tmp_path / "base" / "rootfs"
    assert b"Demo Linux" in (rootfs / "etc/os-release").read_bytes()
    assert os.readlink(rootfs / "bin/sh") == "/bin/busybox"
    assert (rootfs / "usr/bin/pigz").stat().st_ino == (rootfs / "usr/bin/unpigz").stat().st_ino
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (rootfs / "root").stat().st_mode & 0o7777 == 0o700
    data = tmp_path / "data" / "rootfs"
    assert not (data / "opt/tool/debug.log").exists()
    assert (data / "opt/tool/tool").is_file()
    assert sorted(p.name for p in (data / "data/cache").iterdir()) == ["README"]
    assert (data / "data/model.bin").stat().st_size == 2560 << 10
