"""load_archive / save_archive on archives built here: every producer's layout, and hostile ones.

Every refused archive must leave index.json byte for byte as it was, write nothing outside the
store, leave no temp file behind and not touch the archive; the user gets one line naming the
archive and what was wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from imgtui.store import archive as archive_mod
from imgtui.store import layers, oci
from imgtui.store.archive import LoadedImage, host_platform, load_archive, save_archive
from imgtui.store.layout import Store, StoreError
from imgtui.store.oci import FormatError
from tests.store.archive_factory import (
    Image,
    Tar,
    compress,
    docker25,
    docker_classic,
    hexof,
    layer_tar,
    make_image,
    oci_layout,
    sha,
    tree,
)

ARCHIVE = "archive.tar"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


def load(store: Store, tar: Tar, tmp_path: Path, outer: str = "tar", **kw: Any) -> tuple:
    path = tar.write(tmp_path / ARCHIVE, outer)
    lines: list[str] = []
    result = load_archive(store, path, on_line=lines.append, **kw)
    return result, lines


def named(store: Store) -> dict[str, str]:
    return {e.name: e.digest for e in store.read_index().entries if e.name}


def nameless(store: Store) -> list[str]:
    return [e.digest for e in store.read_index().entries if not e.name]


def config_of(store: Store, manifest_digest: str) -> str:
    return store.read_manifest(manifest_digest).config.digest


def check_stored(store: Store, loaded: LoadedImage, image: Image) -> oci.Manifest:
    """The stored image is exactly `image`: same config bytes, layers that unpack to diff_ids."""
    assert loaded.config_digest == image.id
    manifest = store.read_manifest(loaded.manifest.digest)
    assert manifest.config.digest == image.id
    assert store.read_blob(image.id) == image.config
    assert [layers.layer_info(store, d.digest).diff_id for d in manifest.layers] == image.diff_ids
    for d in manifest.layers:
        assert (store.cache / "layers" / f"{hexof(d.digest)}.json").is_file(), "sizes cached"
    return manifest


# ------------------------------------------------------------------------------- formats


def test_classic_docker_save_with_linked_layers(store: Store, tmp_path: Path) -> None:
    a = make_image(["busybox:latest", "example.com/team/app:1.0"], layers=3)
    # A layer seen twice (even in one image) is a symlink to its first copy, as docker writes.
    b = Image([a.layers[0], a.layers[1], a.layers[1]], ["localhost:5000/dup:x"])
    tar = docker_classic([a, b])
    assert any(info.issym() for info, _ in tar.members)
    result, lines = load(store, tar, tmp_path)

    assert [r.config_digest for r in result] == [a.id, b.id]
    assert result[0].names == (
        "docker.io/library/busybox:latest",
        "example.com/team/app:1.0",
    )
    assert lines == [
        "Loaded image: busybox:latest",
        "Loaded image: example.com/team/app:1.0",
        "Loaded image: localhost:5000/dup:x",
    ]
    for r, image in zip(result, (a, b), strict=True):
        manifest = check_stored(store, r, image)
        assert r.manifest.media_type == oci.OCI_MANIFEST
        assert manifest.config.media_type == oci.OCI_CONFIG
        assert {d.media_type for d in manifest.layers} == {oci.OCI_LAYER}
        # Layers docker saved uncompressed are stored as they came: blob digest = diff_id.
        assert [d.digest for d in manifest.layers] == image.diff_ids
    assert named(store) == {
        "docker.io/library/busybox:latest": result[0].manifest.digest,
        "example.com/team/app:1.0": result[0].manifest.digest,
        "localhost:5000/dup:x": result[1].manifest.digest,
    }
    entry = store.read_index().get("example.com/team/app:1.0")
    assert entry is not None
    assert entry.descriptor.annotations == {
        oci.NAME_ANNOTATION: "example.com/team/app:1.0",
        oci.REF_ANNOTATION: "1.0",
    }
    assert not list(store.tmp.iterdir())


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_docker25_layout_keeps_its_manifests(
    store: Store, tmp_path: Path, compression: str
) -> None:
    # engine 25+ (legacy store: plain layers) and the containerd store (compressed layers)
    a = make_image(["app:1", "app:2"], compression=compression)
    b = make_image([], compression=compression)
    result, lines = load(store, docker25([a, b]), tmp_path)
    assert [r.manifest.digest for r in result] == [a.manifest_digest, b.manifest_digest]
    assert lines == ["Loaded image: app:1", "Loaded image: app:2", f"Loaded image ID: {b.id}"]
    for r, image in zip(result, (a, b), strict=True):
        manifest = check_stored(store, r, image)
        assert [d.digest for d in manifest.layers] == [sha(x) for x in image.blobs]
        assert store.read_blob(r.manifest.digest) == image.manifest
    assert nameless(store) == [b.manifest_digest]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_docker_archive_with_compressed_layer_files(
    store: Store, tmp_path: Path, compression: str
) -> None:
    image = make_image(["c:1"], compression=compression)
    tar = docker_classic([image])
    for path, blob in zip(
        json.loads(tar.data("manifest.json"))[0]["Layers"], image.blobs, strict=True
    ):
        tar.replace(path, blob)
    (result,), _ = load(store, tar, tmp_path)
    manifest = check_stored(store, result, image)
    expected = {"gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}[compression]
    assert [d.media_type for d in manifest.layers] == [expected] * 2
    assert [d.digest for d in manifest.layers] == [sha(b) for b in image.blobs]


def test_oci_layout_names(store: Store, tmp_path: Path) -> None:
    a, b, c, d = (make_image(compression="gzip") for _ in range(4))
    tar = oci_layout(
        [
            (a, {oci.NAME_ANNOTATION: "docker.io/library/alpha:3", oci.REF_ANNOTATION: "3"}),
            (b, {oci.REF_ANNOTATION: "registry.example:5000/beta:2"}),  # buildkit-style
            (c, {oci.REF_ANNOTATION: "latest"}),  # a bare tag names no repository
            (d, {}),
        ]
    )
    result, lines = load(store, tar, tmp_path)
    assert [r.names for r in result] == [
        ("docker.io/library/alpha:3",),
        ("registry.example:5000/beta:2",),
        (),
        (),
    ]
    assert lines == [
        "Loaded image: alpha:3",
        "Loaded image: registry.example:5000/beta:2",
        f"Loaded image ID: {c.id}",
        f"Loaded image ID: {d.id}",
    ]
    for r, image in zip(result, (a, b, c, d), strict=True):
        check_stored(store, r, image)
        assert r.manifest.digest == image.manifest_digest
    assert sorted(nameless(store)) == sorted([c.manifest_digest, d.manifest_digest])


def test_oci_index_resolves_to_this_machines_platform(store: Store, tmp_path: Path) -> None:
    _, arch, variant = host_platform()
    mine = make_image(architecture=arch, variant=variant)
    other = make_image(architecture="s390x")
    tar = oci_layout([([other, mine], {oci.NAME_ANNOTATION: "docker.io/library/multi:1"})])
    # registries and exporters leave the other platforms' blobs out
    tar.remove(f"blobs/sha256/{hexof(other.manifest_digest)}")
    (result,), lines = load(store, tar, tmp_path)
    assert result.manifest.digest == mine.manifest_digest
    assert result.names == ("docker.io/library/multi:1",)
    check_stored(store, result, mine)
    assert lines == ["Loaded image: multi:1"]


def test_oci_index_platform_can_be_chosen(store: Store, tmp_path: Path) -> None:
    amd, arm = make_image(architecture="amd64"), make_image(architecture="arm", variant="v7")
    tar = oci_layout([([amd, arm], {oci.NAME_ANNOTATION: "docker.io/library/multi:2"})])
    (result,), _ = load(store, tar, tmp_path, platform="linux/arm/v7")
    assert result.config_digest == arm.id


@pytest.mark.parametrize("outer", ["gzip", "zstd", "bzip2", "xz"])
def test_compressed_archives(store: Store, tmp_path: Path, outer: str) -> None:
    image = make_image(["z:1"])
    (result,), _ = load(store, docker_classic([image]), tmp_path, outer)
    check_stored(store, result, image)
    assert not list(store.tmp.iterdir()), "the inflated copy is deleted"


def test_containerd_save_of_a_multi_platform_image(store: Store, tmp_path: Path) -> None:
    """docker 25+ on the containerd store: index.json names an index, other platforms absent."""
    _, arch, variant = host_platform()
    mine = make_image(["multi:1"], compression="gzip", architecture=arch, variant=variant)
    other = make_image(compression="gzip", architecture="s390x")
    tar = oci_layout([([other, mine], {oci.NAME_ANNOTATION: "docker.io/library/multi:1"})])
    for data in (other.manifest, other.config, other.blobs[1]):
        tar.remove(f"blobs/sha256/{hexof(sha(data))}")
    manifest = [
        {
            "Config": f"blobs/sha256/{hexof(mine.id)}",
            "RepoTags": ["multi:1"],
            "Layers": [f"blobs/sha256/{hexof(sha(b))}" for b in mine.blobs],
        }
    ]
    tar.json("manifest.json", manifest)
    (result,), lines = load(store, tar, tmp_path)
    assert result.manifest.digest == mine.manifest_digest  # the platform manifest, as it was
    check_stored(store, result, mine)
    assert lines == ["Loaded image: multi:1"]


def test_a_load_holds_off_the_sweep_until_named(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blobs written but not yet named must survive a concurrent prune: the ingest lock says so."""
    sweep_possible: list[bool] = []
    remember = layers.remember

    def spying(s: Store, info: layers.LayerInfo) -> None:
        with store.no_ingest() as free:
            sweep_possible.append(free)
        remember(s, info)

    monkeypatch.setattr(layers, "remember", spying)
    load(store, docker_classic([make_image(["held:1"])]), tmp_path)
    assert sweep_possible == [False, False]
    with store.no_ingest() as free:
        assert free


def test_a_tag_claimed_twice_goes_to_the_last(store: Store, tmp_path: Path) -> None:
    first, second = make_image(["same:tag"]), make_image(["same:tag", "other:1"])
    result, lines = load(store, docker_classic([first, second]), tmp_path)
    assert named(store)["docker.io/library/same:tag"] == result[1].manifest.digest
    assert result[0].names == ()  # it lost its only tag: now dangling, as docker leaves it
    assert nameless(store) == [result[0].manifest.digest]
    assert lines == [
        "Loaded image: same:tag",
        f"The image same:tag already exists, renaming the old one with ID {first.id} "
        "to empty string",
        "Loaded image: same:tag",
        "Loaded image: other:1",
    ]


def test_loading_twice_changes_nothing(store: Store, tmp_path: Path) -> None:
    image, dangling = make_image(["twice:1"]), make_image()
    tar = docker_classic([image, dangling])
    first, _ = load(store, tar, tmp_path)
    before = (store.root / "index.json").read_bytes()
    second, lines = load(store, tar, tmp_path)
    assert first == second
    assert (store.root / "index.json").read_bytes() == before
    assert lines == ["Loaded image: twice:1", f"Loaded image ID: {dangling.id}"]


def test_an_image_already_here_keeps_its_manifest(store: Store, tmp_path: Path) -> None:
    image = make_image(["keep:1"], compression="gzip")
    (kept,), _ = load(store, docker25([image]), tmp_path)
    # the same image (same config) from a classic archive, with plain layers and a new tag
    plain = Image(image.layers, ["keep:2"], nonce=image.nonce)
    assert plain.id == image.id
    (again,), _ = load(store, docker_classic([plain]), tmp_path)
    assert again.manifest.digest == kept.manifest.digest == image.manifest_digest
    assert named(store) == {
        "docker.io/library/keep:1": image.manifest_digest,
        "docker.io/library/keep:2": image.manifest_digest,
    }


def test_a_tag_taken_from_an_image_in_the_store(store: Store, tmp_path: Path) -> None:
    old, new = make_image(["moving:tag", "old:stays"]), make_image(["moving:tag"])
    load(store, docker_classic([old]), tmp_path)
    _, lines = load(store, docker_classic([new]), tmp_path)
    assert lines == [
        f"The image moving:tag already exists, renaming the old one with ID {old.id} "
        "to empty string",
        "Loaded image: moving:tag",
    ]
    assert config_of(store, named(store)["docker.io/library/old:stays"]) == old.id
    assert config_of(store, named(store)["docker.io/library/moving:tag"]) == new.id


# ------------------------------------------------------------------------------- save


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    a = Store.open(tmp_path / "a")
    images = [
        make_image(["round/plain:1", "round/plain:2"]),
        make_image(["ghcr.io/round/gz:1"], compression="gzip"),
        make_image(["round/zstd:1"], compression="zstd"),
        make_image([]),
    ]
    loaded, _ = load(a, docker25(images), tmp_path)
    dest = tmp_path / "out" / "saved.tar"
    dest.parent.mkdir()
    save_archive(a, [(r.manifest, r.names) for r in loaded], dest)
    assert sorted(os.listdir(dest.parent)) == ["saved.tar"], "no temp file left"

    with tarfile.open(dest) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert all(m.isfile() or m.isdir() for m in members.values())
        read = lambda name: tar.extractfile(name).read()  # noqa: E731
        assert json.loads(read("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        for name, m in members.items():
            if name.startswith("blobs/sha256/") and m.isfile():
                assert sha(read(name)) == "sha256:" + name.rsplit("/", 1)[1]
        manifest = json.loads(read("manifest.json"))
        index = json.loads(read("index.json"))
        repositories = json.loads(read("repositories"))
    assert [m["RepoTags"] for m in manifest] == [
        ["round/plain:1", "round/plain:2"],
        ["ghcr.io/round/gz:1"],
        ["round/zstd:1"],
        None,
    ]
    assert [m["Config"] for m in manifest] == [f"blobs/sha256/{hexof(i.id)}" for i in images]
    # engine 20.10 cannot read zstd layers: manifest.json points at uncompressed copies
    assert manifest[2]["Layers"] == [f"blobs/sha256/{hexof(d)}" for d in images[2].diff_ids]
    assert manifest[1]["Layers"] == [f"blobs/sha256/{hexof(sha(b))}" for b in images[1].blobs]
    names = [
        (d["digest"], (d.get("annotations") or {}).get(oci.NAME_ANNOTATION))
        for d in index["manifests"]
    ]
    assert names == [
        (images[0].manifest_digest, "docker.io/round/plain:1"),
        (images[0].manifest_digest, "docker.io/round/plain:2"),
        (images[1].manifest_digest, "ghcr.io/round/gz:1"),
        (images[2].manifest_digest, "docker.io/round/zstd:1"),
        (images[3].manifest_digest, None),
    ]
    assert index["manifests"][0]["annotations"][oci.REF_ANNOTATION] == "1"
    assert repositories["round/plain"] == {
        "1": hexof(images[0].diff_ids[-1]),
        "2": hexof(images[0].diff_ids[-1]),
    }

    b = Store.open(tmp_path / "b")
    again = load_archive(b, dest)
    assert [(r.manifest, r.config_digest, r.names) for r in again] == [
        (r.manifest, r.config_digest, r.names) for r in loaded
    ]
    assert store_blobs(b) == store_blobs(a)
    assert (b.root / "index.json").read_bytes() == (a.root / "index.json").read_bytes()


def store_blobs(store: Store) -> set[str]:
    marked, problems = store.referenced(store.read_index())
    assert not problems
    return marked


def test_save_is_deterministic_and_atomic(store: Store, tmp_path: Path) -> None:
    image = make_image(["atomic:1"], compression="zstd")
    (loaded,), _ = load(store, docker25([image]), tmp_path)
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    save_archive(store, [(loaded.manifest, loaded.names)], one)
    save_archive(store, [(loaded.manifest, loaded.names)], two)
    assert one.read_bytes() == two.read_bytes()

    # a damaged store: the save fails and the old file at dest stays whole
    dest = tmp_path / "dest.tar"
    dest.write_bytes(b"previous archive")
    blob = store.blob_path(sha(image.blobs[1]))
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(StoreError, match="damaged"):
        save_archive(store, [(loaded.manifest, loaded.names)], dest)
    assert dest.read_bytes() == b"previous archive"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
    blob.unlink()
    with pytest.raises(StoreError, match="missing"):
        save_archive(store, [(loaded.manifest, loaded.names)], dest)
    assert dest.read_bytes() == b"previous archive"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_save_merges_one_image_given_twice(store: Store, tmp_path: Path) -> None:
    (loaded,), _ = load(store, docker_classic([make_image(["m:1", "m:2"])]), tmp_path)
    dest = tmp_path / "merged.tar"
    # as `docker save m:1 m:2 <id>` asks: one image, with the tags asked for by name
    save_archive(
        store,
        [
            (loaded.manifest, ["m:1"]),
            (loaded.manifest, ["docker.io/library/m:2"]),
            (loaded.manifest, []),
        ],
        dest,
    )
    with tarfile.open(dest) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        index = json.loads(tar.extractfile("index.json").read())
    assert [m["RepoTags"] for m in manifest] == [["m:1", "m:2"]]
    assert len(index["manifests"]) == 2


def test_save_refuses_one_name_for_two_images(store: Store, tmp_path: Path) -> None:
    result, _ = load(store, docker_classic([make_image(["x:1"]), make_image(["y:1"])]), tmp_path)
    with pytest.raises(ValueError, match="x:1 is given for two different images"):
        save_archive(
            store,
            [(result[0].manifest, ["x:1"]), (result[1].manifest, ["docker.io/library/x:1"])],
            tmp_path / "o",
        )
    with pytest.raises(ValueError, match="no image"):
        save_archive(store, [], tmp_path / "o")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------- hostile


@dataclass
class Case:
    """One hostile or broken archive and the line it must be refused with."""

    id: str
    build: Callable[[], Tar | bytes]
    message: str  # regex, searched in the error text
    outer: str = "tar"
    patch: dict[str, Any] = field(default_factory=dict)  # "module.NAME": value


def classic(*tags: str, **kw: Any) -> tuple[Tar, Image]:
    image = make_image(list(tags) or ["bad:1"], **kw)
    return docker_classic([image]), image


def with_member(make: Callable[[Tar], Tar]) -> Callable[[], Tar]:
    def build() -> Tar:
        tar, _ = classic()
        return make(tar)

    return build


def layer_path(tar: Tar, i: int = 1, image: int = 0) -> str:
    return str(json.loads(tar.data("manifest.json"))[image]["Layers"][i])


def edit_manifest(edit: Callable[[list[Any]], Any]) -> Callable[[], Tar]:
    def build() -> Tar:
        tar, _ = classic()
        manifest = json.loads(tar.data("manifest.json"))
        return tar.replace("manifest.json", json.dumps(edit(manifest)).encode())

    return build


def set_entry(key: str, value: Any) -> Callable[[list[Any]], Any]:
    def edit(manifest: list[Any]) -> Any:
        manifest[0][key] = value
        return manifest

    return edit


def flip(data: bytes) -> bytes:
    """Same length, other bytes: digests no longer match."""
    return data[:-1] + bytes([data[-1] ^ 1])


def tampered_layer() -> Tar:
    tar, _ = classic()
    other = layer_tar({"not/what/the/config/says": b"x"})
    return tar.replace(layer_path(tar), other)


def tampered_classic_config() -> Tar:
    tar, image = classic()
    changed = image.config.replace(b'"sh"', b'"ls"')
    return tar.replace(f"{hexof(image.id)}.json", changed)


def oci_with(edit: Callable[[Tar, Image], Any], **kw: Any) -> Callable[[], Tar]:
    def build() -> Tar:
        image = make_image(**kw)
        tar = oci_layout([(image, {oci.NAME_ANNOTATION: "docker.io/library/bad:oci"})])
        edit(tar, image)
        return tar

    return build


def blob(data: bytes) -> str:
    return f"blobs/sha256/{hexof(sha(data))}"


def wrong_size_layer() -> Tar:
    image = make_image(compression="gzip")
    obj = json.loads(image.manifest)
    obj["layers"][1]["size"] += 1
    image.manifest = oci.canonical_json(obj)
    return oci_layout([(image, {})])


def two_images_second_bad() -> Tar:
    good, bad = make_image(["good:1"]), make_image(["bad:2"])
    tar = docker_classic([good, bad])
    return tar.replace(layer_path(tar, 1, image=1), layer_tar({"evil": b"!"}))


def truncated_mid_member() -> bytes:
    tar, _ = classic()
    data = tar.bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        big = max(t.getmembers(), key=lambda m: m.size)
        return data[: big.offset_data + big.size // 2]


def truncated_at_member_boundary() -> bytes:
    tar, _ = classic()
    data = tar.bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        last = t.getmembers()[-1]
    end = last.offset_data + -(-last.size // 512) * 512
    return data[:end]  # every member whole, but no end-of-archive marker


def garbage_after_members() -> bytes:
    data = truncated_at_member_boundary()
    return data + b"\x01" * 512 + b"\0" * 1024


def huge_json() -> Tar:
    tar, _ = classic()
    padded = tar.data("manifest.json") + b" " * (oci.MAX_JSON_BLOB + 1)
    return tar.replace("manifest.json", padded)


def bomb_layer() -> Tar:
    image = Image(
        [layer_tar({"a": b"1"}), layer_tar({"zeros": bytes(4 << 20)})],
        ["bomb:1"],
        ["tar", "gzip"],
    )
    return docker25([image])


def big_archive() -> Tar:
    image = Image([layer_tar({"zeros": bytes(4 << 20)})], ["big:1"])
    return docker_classic([image])


def hostile_layer_entry() -> Tar:
    evil = tarfile.TarInfo("../../evil")
    evil.size = 4
    image = Image([layer_tar({"ok": b"1"}, hostile=[evil])], ["hostile:1"])
    return docker_classic([image])


def nested_no_platform() -> Tar:
    image = make_image(architecture="s390x", os="plan9")
    return oci_layout([([image], {oci.NAME_ANNOTATION: "docker.io/library/x:1"})])


def only_index_json() -> Tar:
    tar = oci_layout([(make_image(), {})])
    return tar.remove("oci-layout")


def big_truncated_zstd() -> bytes:
    image = Image([layer_tar({"noise": os.urandom(600_000)})], ["big:zstd"])
    data = compress(docker_classic([image]).bytes(), "zstd")
    return data[: len(data) // 2]


def not_an_image() -> Tar:
    image = make_image()
    obj = json.loads(image.manifest)
    obj["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    image.manifest = oci.canonical_json(obj)
    return oci_layout([(image, {})])


def bad_index_digest() -> Tar:
    tar = oci_layout([(make_image(), {})])
    index = json.loads(tar.data("index.json"))
    index["manifests"][0]["digest"] = "sha512:" + "ab" * 64
    return tar.replace("index.json", json.dumps(index).encode())


def config_without_rootfs() -> Tar:
    tar, image = classic()
    config = json.loads(image.config)
    del config["rootfs"]
    data = oci.canonical_json(config)
    manifest = json.loads(tar.data("manifest.json"))
    manifest[0]["Config"] = f"{hexof(sha(data))}.json"
    return tar.file(f"{hexof(sha(data))}.json", data).replace(
        "manifest.json", json.dumps(manifest).encode()
    )


def link_to_another_blob() -> Tar:
    image = make_image(["d25:link"])
    tar = docker25([image]).remove("index.json").remove("oci-layout")
    first, second = (f"blobs/sha256/{hexof(sha(b))}" for b in image.blobs)
    return tar.remove(second).link(second, first.rsplit("/", 1)[1])


def two_digests_one_file() -> Tar:
    """Layer A is a link to layer B: A's bytes never exist, yet the manifest names A."""
    base = layer_tar({"same": b"1"})
    image = Image([base, base], ["twice:1"])
    fake = "sha256:" + "a" * 64
    obj = json.loads(image.manifest)
    obj["layers"][1]["digest"] = fake
    image.manifest = oci.canonical_json(obj)
    tar = oci_layout([(image, {})])
    return tar.link(f"blobs/sha256/{'a' * 64}", hexof(sha(base)))


def symlink_loop() -> Tar:
    tar, _ = classic()
    return tar.link("a", "b").link("b", "a")


CASES = [
    Case(
        "absolute-path",
        with_member(lambda t: t.file("/etc/evil", b"x")),
        r"member '/etc/evil' has an absolute path",
    ),
    Case(
        "dotdot",
        with_member(lambda t: t.file("../../evil", b"x")),
        r"member '\.\./\.\./evil' climbs out of the archive",
    ),
    Case(
        "dotdot-inside",
        with_member(lambda t: t.file("blobs/../../../tmp/evil", b"x")),
        r"member 'blobs/\.\./\.\./\.\./tmp/evil' climbs out of the archive",
    ),
    Case(
        "dotdot-first",
        lambda: Tar().file("../evil", b"x").file("manifest.json", b"[]"),
        r"member '\.\./evil' climbs out",
    ),
    Case(
        "symlink-out",
        with_member(lambda t: t.link("evil", "../../../../etc/passwd")),
        r"member 'evil' is a symbolic link to '\.\./\.\./\.\./\.\./etc/passwd', "
        r"which climbs out of the archive",
    ),
    Case(
        "symlink-absolute",
        with_member(lambda t: t.link("evil", "/etc/passwd")),
        r"member 'evil' is a symbolic link to the absolute path '/etc/passwd'",
    ),
    Case(
        "layer-symlink-out",
        with_member(lambda t: t.remove(layer_path(t)).link(layer_path(t), "../../../etc/passwd")),
        r"is a symbolic link to '\.\./\.\./\.\./etc/passwd', which climbs out of the archive",
    ),
    Case(
        "symlink-to-nothing",
        with_member(lambda t: t.link("x/layer.tar", "../missing/layer.tar")),
        r"member 'x/layer.tar' is a symbolic link to '\.\./missing/layer.tar', "
        r"which is not a file in the archive",
    ),
    Case("symlink-loop", symlink_loop, r"member 'a' is a chain of more than 8 links"),
    Case(
        "link-to-another-blob",
        link_to_another_blob,
        r"manifest.json image 0: blobs/sha256/(\w{64}) -> blobs/sha256/(?!\1)\w{64} "
        r"name different digests",
    ),
    Case(
        "two-digests-one-file",
        two_digests_one_file,
        r"layer 'blobs/sha256/a{64}': content has digest sha256:[0-9a-f]{64}, not sha256:a{64}",
    ),
    Case(
        "symlink-to-folder",
        with_member(lambda t: t.dir("d").link("d/layer.tar", "..")),
        r"member 'd/layer.tar' is a symbolic link to '\.\.', which is not a file in the archive",
    ),
    Case(
        "hard-link",
        with_member(lambda t: t.link("hard", "manifest.json", tarfile.LNKTYPE)),
        r"member 'hard' is a hard link",
    ),
    Case(
        "char-device",
        with_member(lambda t: t.special("null", tarfile.CHRTYPE)),
        r"member 'null' is a device node",
    ),
    Case(
        "block-device",
        with_member(lambda t: t.special("sda", tarfile.BLKTYPE)),
        r"member 'sda' is a device node",
    ),
    Case(
        "fifo",
        with_member(lambda t: t.special("pipe", tarfile.FIFOTYPE)),
        r"member 'pipe' is a named pipe",
    ),
    Case(
        "duplicate-member",
        with_member(lambda t: t.json("manifest.json", [])),
        r"member 'manifest.json' appears twice",
    ),
    Case(
        "duplicate-after-normalizing",
        with_member(lambda t: t.json("./manifest.json", [])),
        r"member 'manifest.json' appears twice",
    ),
    Case(
        "missing-layer",
        with_member(lambda t: t.remove(layer_path(t))),
        r"manifest.json image 0 layer 1 refers to '[0-9a-f]{64}/layer.tar', "
        r"which is not in the archive",
    ),
    Case(
        "missing-config",
        with_member(lambda t: t.remove(json.loads(t.data("manifest.json"))[0]["Config"])),
        r"manifest.json image 0 Config refers to '[0-9a-f]{64}\.json', which is not in the archive",
    ),
    Case(
        "manifest-path-climbs",
        edit_manifest(set_entry("Config", "../../etc/passwd")),
        r"manifest.json image 0 Config: path '\.\./\.\./etc/passwd' climbs out of the archive",
    ),
    Case(
        "manifest-path-absolute",
        edit_manifest(set_entry("Layers", ["/etc/passwd", "x"])),
        r"manifest.json image 0 layer 0: path '/etc/passwd' is absolute",
    ),
    Case(
        "oci-missing-manifest",
        oci_with(lambda t, i: t.remove(f"blobs/sha256/{hexof(i.manifest_digest)}")),
        r"manifest sha256:[0-9a-f]{64} is not in the archive",
    ),
    Case(
        "oci-missing-config",
        oci_with(lambda t, i: t.remove(blob(i.config))),
        r"config sha256:[0-9a-f]{64} is not in the archive",
    ),
    Case(
        "oci-missing-layer",
        oci_with(lambda t, i: t.remove(blob(i.blobs[1]))),
        r"manifest sha256:[0-9a-f]{64} layer 1 sha256:[0-9a-f]{64} is not in the archive",
    ),
    Case(
        "oci-layer-digest-mismatch",
        oci_with(lambda t, i: t.replace(blob(i.blobs[1]), flip(i.blobs[1]))),
        r"layer 'blobs/sha256/[0-9a-f]{64}': content has digest sha256:[0-9a-f]{64}, "
        r"not sha256:[0-9a-f]{64}",
    ),
    Case(
        "oci-gzip-layer-digest-mismatch",
        oci_with(lambda t, i: t.replace(blob(i.blobs[1]), flip(i.blobs[1])), compression="gzip"),
        r"content has digest sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}",
    ),
    Case(
        "oci-manifest-digest-mismatch",
        oci_with(lambda t, i: t.replace(blob(i.manifest), i.manifest.replace(b"2", b"3", 1))),
        r"blob 'blobs/sha256/[0-9a-f]{64}' has digest sha256:[0-9a-f]{64}, "
        r"not the one its name says",
    ),
    Case(
        "oci-config-digest-mismatch",
        oci_with(lambda t, i: t.replace(blob(i.config), i.config.replace(b"sh", b"ls"))),
        r"blob 'blobs/sha256/[0-9a-f]{64}' has digest sha256:[0-9a-f]{64}, "
        r"not the one its name says",
    ),
    Case(
        "oci-declared-size",
        wrong_size_layer,
        r"layer 'blobs/sha256/[0-9a-f]{64}' is \d+ bytes, but \d+ declared",
    ),
    Case(
        "docker25-layer-digest-mismatch",
        lambda: (lambda i, t: t.replace(blob(i.blobs[1]), flip(i.blobs[1])))(
            img := make_image(["d25:1"], compression="zstd"), docker25([img])
        ),
        r"content has digest sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}",
    ),
    Case(
        "layer-is-not-its-diff-id",
        tampered_layer,
        r"layer '[0-9a-f]{64}/layer.tar' has diff_id sha256:[0-9a-f]{64}, "
        r"but the config expects sha256:[0-9a-f]{64}",
    ),
    Case(
        "config-is-not-its-name",
        tampered_classic_config,
        r"config '[0-9a-f]{64}\.json' has digest sha256:[0-9a-f]{64}, "
        r"not the sha256:[0-9a-f]{64} its name says",
    ),
    Case(
        "second-image-bad",
        two_images_second_bad,
        r"manifest.json image 1|layer '[0-9a-f]{64}/layer.tar' has diff_id",
    ),
    Case(
        "truncated-mid-member",
        truncated_mid_member,
        r"truncated: member '.*' ends \d+ bytes past the end of the file",
    ),
    Case(
        "truncated-at-boundary",
        truncated_at_member_boundary,
        r"truncated after member 'repositories' \(no end-of-archive marker\)",
    ),
    Case("garbage-header", garbage_after_members, r"unreadable tar header at byte \d+"),
    Case(
        "truncated-gzip",
        lambda: compress(classic()[0].bytes(), "gzip")[:-100],
        r"truncated gzip data",
    ),
    Case(
        "truncated-zstd",
        lambda: compress(classic()[0].bytes(), "zstd")[:-100],
        r"truncated",
    ),
    Case(
        "truncated-zstd-large",
        big_truncated_zstd,
        r"truncated: member '[0-9a-f]{64}/layer.tar' ends \d+ bytes past the end of the file",
    ),
    Case(
        "oci-artifact",
        not_an_image,
        r"config media type 'application/vnd.cncf.helm.config.v1\+json' "
        r"is not a container image's",
    ),
    Case(
        "corrupt-gzip",
        lambda: gzip.compress(b"x" * 1000)[:20] + b"\xff" * 100,
        r"corrupt gzip data",
    ),
    Case(
        "huge-json",
        huge_json,
        rf"manifest.json: \d+ bytes of JSON, more than {oci.MAX_JSON_BLOB}",
    ),
    Case(
        "layer-bomb",
        bomb_layer,
        r"layer 'blobs/sha256/[0-9a-f]{64}': layer expands to more than \d+ bytes "
        r"\(decompression bomb\?\)",
        patch={"layers.MAX_RATIO": 2},
    ),
    Case(
        "archive-bomb",
        big_archive,
        r"gzip archive inflates to more than \d+ bytes \(decompression bomb\?\)",
        outer="gzip",
        patch={"archive_mod.MAX_OUTER_RATIO": 2},
    ),
    Case(
        "too-many-members",
        lambda: classic()[0],
        r"more than 5 members",
        patch={"archive_mod.MAX_MEMBERS": 5},
    ),
    Case(
        "hostile-layer-entry",
        hostile_layer_entry,
        r"layer '[0-9a-f]{64}/layer.tar': entry '\.\./\.\./evil' climbs out of the root",
    ),
    Case(
        "manifest-not-a-list",
        edit_manifest(lambda m: m[0]),
        r"manifest.json is not a list of image objects",
    ),
    Case(
        "manifest-list-of-strings",
        edit_manifest(lambda m: ["x"]),
        r"manifest.json is not a list of image objects",
    ),
    Case("manifest-empty", edit_manifest(lambda m: []), r"manifest.json lists no images"),
    Case(
        "manifest-no-config",
        edit_manifest(set_entry("Config", None)),
        r"manifest.json image 0: Config is not a string",
    ),
    Case(
        "manifest-layers-not-list",
        edit_manifest(set_entry("Layers", "a/layer.tar")),
        r"manifest.json image 0: Layers is not a list of strings",
    ),
    Case(
        "manifest-repotags-not-list",
        edit_manifest(set_entry("RepoTags", "a:1")),
        r"manifest.json image 0: RepoTags is not a list of strings",
    ),
    Case(
        "manifest-bad-tag",
        edit_manifest(set_entry("RepoTags", ["Not/Valid:tag"])),
        r"manifest.json image 0 RepoTags: 'Not/Valid:tag' is not a valid image name",
    ),
    Case(
        "manifest-digest-tag",
        edit_manifest(set_entry("RepoTags", ["a@sha256:" + "0" * 64])),
        r"names a digest, not a tag",
    ),
    Case(
        "manifest-layer-count",
        edit_manifest(lambda m: [{**m[0], "Layers": m[0]["Layers"][:1]}]),
        r"manifest.json image 0 lists 1 layer, but its config has 2 diff_ids",
    ),
    Case(
        "manifest-not-json",
        with_member(lambda t: t.replace("manifest.json", b"[{")),
        r"manifest.json: not valid JSON",
    ),
    Case(
        "oci-bad-digest",
        bad_index_digest,
        r"invalid digest 'sha512:(ab){64}' in index.json manifest 0",
    ),
    Case(
        "config-without-diff-ids",
        config_without_rootfs,
        r"config '[0-9a-f]{64}\.json': image config without rootfs.diff_ids",
    ),
    Case(
        "oci-layout-version",
        oci_with(lambda t, i: t.replace("oci-layout", b'{"imageLayoutVersion":"9"}')),
        r"oci-layout: imageLayoutVersion '9', expected '1.0.0'",
    ),
    Case("not-a-tar", lambda: os.urandom(4096), r"not a tar archive"),
    Case("empty-file", lambda: b"", r"not a tar archive"),
    Case(
        "no-manifest",
        lambda: Tar().file("hello.txt", b"hi"),
        r"neither manifest.json \(docker save\) nor index.json \(OCI layout\)",
    ),
    Case(
        "docker-before-1.10",
        lambda: Tar().json("repositories", {"a": {"b": "c"}}),
        r"an archive of docker before 1\.10",
    ),
    Case("index-without-oci-layout", only_index_json, r"index.json but no oci-layout file"),
    Case(
        "no-platform",
        nested_no_platform,
        r"image index sha256:[0-9a-f]{64} has no manifest for linux/\w+.* "
        r"\(it has plan9/s390x\)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_archive_is_refused_whole(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "store")
    own = Image([layer_tar({"already-here": case.id.encode()})], ["already:here"])
    (tmp_path / "pre").mkdir()
    load_archive(store, docker_classic([own]).write(tmp_path / "pre" / "pre.tar"))
    index_before = (store.root / "index.json").read_bytes()

    built = case.build()
    data = built if isinstance(built, bytes) else compress(built.bytes(), case.outer)
    path = tmp_path / ARCHIVE
    path.write_bytes(data)
    stat_before = path.stat()
    outside_before = {p for p in tree(tmp_path) if not p.startswith("store")}
    escapes = [tmp_path.parent / "evil", tmp_path.parent.parent / "evil", Path("/tmp/evil")]
    escapes += [Path("/etc/evil"), tmp_path / "store" / "evil", tmp_path / "store" / "null"]
    escaped_before = [p.exists() for p in escapes]
    for name, value in case.patch.items():
        module, attr = name.split(".")
        monkeypatch.setattr({"layers": layers, "archive_mod": archive_mod}[module], attr, value)

    lines: list[str] = []
    with pytest.raises(FormatError) as raised:
        load_archive(store, path, on_line=lines.append)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{ARCHIVE}: "), message
    assert re.search(case.message, message), message

    assert lines == []
    assert (store.root / "index.json").read_bytes() == index_before
    assert {p for p in tree(tmp_path) if not p.startswith("store")} == outside_before
    assert [p.exists() for p in escapes] == escaped_before
    assert not list(store.tmp.iterdir()), "temp files are removed"
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == stat_before.st_mtime_ns
    # Whatever was written is unreferenced: the store still holds exactly its old image.
    assert {e.name for e in store.read_index().entries} == {"docker.io/library/already:here"}


def test_every_rule_has_a_case() -> None:
    """The hostile table covers each refusal the brief lists."""
    ids = {c.id for c in CASES}
    for needed in (
        "absolute-path",
        "dotdot",
        "symlink-out",
        "hard-link",
        "char-device",
        "fifo",
        "duplicate-member",
        "missing-layer",
        "oci-missing-manifest",
        "oci-layer-digest-mismatch",
        "layer-is-not-its-diff-id",
        "config-is-not-its-name",
        "truncated-mid-member",
        "huge-json",
        "layer-bomb",
        "archive-bomb",
        "manifest-not-a-list",
    ):
        assert needed in ids


def test_docker_save_symlink_inside_is_not_followed_on_disk(store: Store, tmp_path: Path) -> None:
    """A link between two members is read through, never created (nothing is extracted)."""
    a = make_image(["linked:1"])
    b = Image([a.layers[0], a.layers[1], a.layers[1]], ["linked:2"])
    before = tree(tmp_path)
    load(store, docker_classic([b]), tmp_path)
    created = tree(tmp_path) - before
    assert all(p.startswith("store") or p == ARCHIVE for p in created), created
    assert not any(os.path.islink(tmp_path / p) for p in tree(tmp_path / "store"))


def test_archive_digests_are_sha256_of_member_bytes() -> None:
    """The factory itself: names in blobs/ are the sha256 of their bytes (sanity for the table)."""
    image = make_image(compression="gzip")
    tar = docker25([image])
    for info, data in tar.members:
        if info.name.startswith("blobs/sha256/") and data is not None:
            assert hashlib.sha256(data).hexdigest() == info.name.rsplit("/", 1)[1]
