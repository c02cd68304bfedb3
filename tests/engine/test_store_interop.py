"""The built-in store's archives and layout against the real tools: dockerd, skopeo and umoci.

`docker save` -> load_archive must give docker's image ids, layers and "Loaded image" lines;
save_archive -> `docker load` (engine 20.10, API 1.41) must give our ids and tags back; and the
store itself must read as an OCI layout to skopeo (`oci:DIR:TAG`) and umoci (`DIR:TAG`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgtui.store import layers, oci
from imgtui.store.archive import LoadedImage, load_archive, save_archive
from imgtui.store.layout import Store
from tests.conftest import BASE_REPO, build_image, busybox_rootfs_tar
from tests.store.archive_factory import Image, layer_tar, oci_layout

pytestmark = pytest.mark.engine

# Two identical COPY layers: `docker save` of engine < 25 writes the second as a symlink.
REPEATED_LAYER_DOCKERFILE = f"""\
FROM {BASE_REPO}:latest
COPY x /x
RUN rm /x
COPY x /x
ENV MODE=interop
"""


@pytest.fixture
def engine_images(docker_client: Any) -> Iterator[list[str]]:
    """Refs and ids a test leaves in the engine, removed afterwards."""
    made: list[str] = []
    yield made
    for ref in reversed(made):
        # already gone when another ref of the same image went first
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(ref, force=True)


def stored_diff_ids(store: Store, loaded: LoadedImage) -> list[str]:
    manifest = store.read_manifest(loaded.manifest.digest)
    return [layers.layer_info(store, d.digest).diff_id for d in manifest.layers]


def test_docker_save_loads_with_dockers_ids_layers_and_lines(
    docker_client: Any,
    docker_cli: Any,
    base_image: str,
    unique_repo: str,
    tmp_path: Path,
    engine_images: list[str],
) -> None:
    api = docker_client.api
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "x").write_text("interop\n")
    built = f"{unique_repo}:repeated"
    build_image(docker_client, ctx, built, REPEATED_LAYER_DOCKERFILE)
    api.tag(f"{BASE_REPO}:latest", unique_repo, "base")
    engine_images += [built, f"{unique_repo}:base"]
    untagged_id = api.inspect_image(built)["Id"]

    archive = tmp_path / "saved.tar"
    docker_cli("save", "-o", str(archive), built, f"{unique_repo}:base")
    by_id = tmp_path / "by-id.tar"
    docker_cli("save", "-o", str(by_id), untagged_id)
    with tarfile.open(archive) as tar:
        assert any(m.issym() for m in tar.getmembers()), "docker wrote its layer symlink"

    store = Store.open(tmp_path / "store")
    lines: list[str] = []
    loaded = load_archive(store, archive, on_line=lines.append)
    assert lines == docker_cli("load", "-i", str(archive)).stdout.splitlines()
    by_ref = {name: image for image in loaded for name in image.names}
    for ref in (built, f"{unique_repo}:base"):
        engine = api.inspect_image(ref)
        image = by_ref[f"docker.io/{ref}"]
        assert image.config_digest == engine["Id"]
        assert stored_diff_ids(store, image) == engine["RootFS"]["Layers"]

    id_lines: list[str] = []
    (again,) = load_archive(Store.open(tmp_path / "store2"), by_id, on_line=id_lines.append)
    assert again.config_digest == untagged_id and again.names == ()
    assert id_lines == docker_cli("load", "-i", str(by_id)).stdout.splitlines()
    assert id_lines == [f"Loaded image ID: {untagged_id}"]


def test_saved_archives_load_into_docker_with_our_ids_and_tags(
    docker_client: Any,
    docker_cli: Any,
    base_image: str,
    unique_repo: str,
    tmp_path: Path,
    engine_images: list[str],
) -> None:
    api = docker_client.api
    store = Store.open(tmp_path / "store")
    # From docker itself: plain layers. An image of this test's own (never the session base,
    # which the cleanup would take away from every other test).
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    own = f"{unique_repo}:from-docker"
    build_image(docker_client, ctx, own, f"FROM {BASE_REPO}:latest\nENV NONCE={uuid.uuid4()}\n")
    engine_images.append(own)
    source = tmp_path / "source.tar"
    docker_cli("save", "-o", str(source), own)
    api.remove_image(own)
    (plain,) = load_archive(store, source)
    # Hand-made OCI images: a zstd base (engine 20.10 cannot read zstd) and a gzip one.
    rootfs = busybox_rootfs_tar()
    zstd = Image([rootfs, layer_tar({"hello.txt": b"zstd\n"})], compression=["zstd", "gzip"])
    gz = Image([rootfs, layer_tar({"hello.txt": b"gzip\n"})], compression=["gzip", "tar"])
    dangling = Image([rootfs, layer_tar({"hello.txt": b"none\n"})], compression=["gzip", "gzip"])
    tar = oci_layout([(zstd, {}), (gz, {}), (dangling, {})])
    loaded = load_archive(store, tar.write(tmp_path / "oci.tar"))
    refs = {
        plain.config_digest: [f"{unique_repo}:plain", f"{unique_repo}:plain2"],
        zstd.id: [f"{unique_repo}:zstd"],
        gz.id: [f"{unique_repo}:gzip"],
        dangling.id: [],
    }
    images = [plain, *loaded]
    dest = tmp_path / "saved.tar"
    save_archive(store, [(i.manifest, refs[i.config_digest]) for i in images], dest)
    engine_images += [i.config_digest for i in images]

    out = api.load_image(dest.read_bytes())
    text = "".join(str(chunk.get("stream", "")) for chunk in out)
    assert "Loaded image: " + f"{unique_repo}:zstd" in text, text
    assert f"Loaded image ID: {dangling.id}" in text, text
    for image in images:
        engine = api.inspect_image(image.config_digest)
        assert engine["Id"] == image.config_digest
        assert sorted(engine["RepoTags"]) == sorted(refs[image.config_digest])
        assert engine["RootFS"]["Layers"] == stored_diff_ids(store, image)

    # The same file is an OCI layout: skopeo reads it by tag.
    result = run(["skopeo", "inspect", "--raw", f"oci-archive:{dest}:zstd"])
    assert json.loads(result) == json.loads(store.read_blob(loaded[0].manifest.digest))


def run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


@pytest.fixture
def busybox_store(
    docker_client: Any, docker_cli: Any, base_image: str, tmp_path: Path
) -> tuple[Store, LoadedImage, str]:
    """A store holding the session's busybox, loaded from `docker save`, under a unique tag."""
    archive = tmp_path / "busybox.tar"
    docker_cli("save", "-o", str(archive), f"{BASE_REPO}:latest")
    store = Store.open(tmp_path / "store")
    (image,) = load_archive(store, archive)
    # skopeo and umoci select by org.opencontainers.image.ref.name: make it unique.
    tag = f"t{uuid.uuid4().hex[:12]}"
    with store.locked() as index:
        index.set_name(f"docker.io/{BASE_REPO}:{tag}", image.manifest)
    return store, image, tag


def test_skopeo_reads_the_store(busybox_store: tuple[Store, LoadedImage, str]) -> None:
    store, image, tag = busybox_store
    info = json.loads(run(["skopeo", "inspect", f"oci:{store.root}:{tag}"]))
    manifest = store.read_manifest(image.manifest.digest)
    assert info["Digest"] == image.manifest.digest
    assert info["Layers"] == [d.digest for d in manifest.layers]
    assert info["Os"] == "linux"
    raw = run(["skopeo", "inspect", "--raw", f"oci:{store.root}:{tag}"])
    assert raw.encode() == store.read_blob(image.manifest.digest)
    config = run(["skopeo", "inspect", "--config", "--raw", f"oci:{store.root}:{tag}"])
    assert oci.canonical_json(json.loads(config)) == oci.canonical_json(
        json.loads(store.read_blob(image.config_digest))
    )


def test_umoci_unpacks_the_store(
    busybox_store: tuple[Store, LoadedImage, str], tmp_path: Path
) -> None:
    store, _, tag = busybox_store
    index_before = (store.root / "index.json").read_bytes()
    blobs_before = sorted(p.name for p in store.blobs.iterdir())
    bundle = tmp_path / "bundle"
    run(["umoci", "unpack", "--image", f"{store.root}:{tag}", str(bundle)])
    busybox = bundle / "rootfs" / "bin" / "busybox"
    assert busybox.is_file() and busybox.stat().st_size > 100_000
    assert (bundle / "config.json").is_file()
    # umoci only read the store
    assert (store.root / "index.json").read_bytes() == index_before
    assert sorted(p.name for p in store.blobs.iterdir()) == blobs_before
