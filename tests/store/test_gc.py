"""Mark-and-sweep and fsck on stores built directly through the Store API."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from imgtui.store import gc, layers, oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor
from tests.store.helpers import (
    add_image,
    blob_file,
    layer_tar,
    names,
    write_image,
    write_orphan,
)

BASE = layer_tar({"bin/sh": b"#!base\n" * 100})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


def blobs(store: Store) -> set[str]:
    return {"sha256:" + p.name for p in store.blobs.iterdir()}


def referenced_blobs(store: Store, desc: Descriptor) -> set[str]:
    """Every blob one manifest or index reaches, read back from the store."""
    if desc.media_type == oci.OCI_INDEX:
        out = {desc.digest}
        for child in oci.parse_index(store.read_blob(desc.digest), "test"):
            out |= referenced_blobs(store, child)
        return out
    m = store.read_manifest(desc.digest)
    out = {desc.digest, m.config.digest, *(layer.digest for layer in m.layers)}
    if dockerfile := m.annotations.get(oci.DOCKERFILE_ANNOTATION):
        out.add(dockerfile)
    return out


def add_index_image(store: Store, name: str) -> Descriptor:
    """A named image index whose child manifests index.json does not list itself."""
    children = [
        write_image(store, [BASE, layer_tar({"arch": arch.encode()})]) for arch in ("amd64", "arm")
    ]
    body = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_INDEX,
        "manifests": [
            {**c.to_json(), "platform": {"os": "linux", "architecture": a}}
            for c, a in zip(children, ("amd64", "arm"), strict=True)
        ],
    }
    digest, size = store.write_json_blob(body)
    desc = Descriptor(oci.OCI_INDEX, digest, size)
    with store.locked() as index:
        index.set_name(name, desc)
    return desc


def populate(store: Store) -> set[str]:
    """Tagged, multi-tagged, dangling, Dockerfile-annotated and index images; their blobs."""
    a = add_image(store, "docker.io/library/a:1", [BASE, layer_tar({"a": b"a"})])
    with store.locked() as index:
        index.set_name("docker.io/library/a:latest", a)
    b = add_image(store, "docker.io/library/b:1", [BASE, layer_tar({"b": b"b"})])
    dangling = add_image(store, None, [layer_tar({"d": b"d"})])
    built = add_image(
        store, "docker.io/library/built:1", [BASE], dockerfile=b"FROM base\nCOPY x /x\n"
    )
    multi = add_index_image(store, "docker.io/library/multi:1")
    keep: set[str] = set()
    for desc in (a, b, dangling, built, multi):
        keep |= referenced_blobs(store, desc)
    return keep


def sweep(store: Store) -> gc.SweepReport:
    with store.locked() as index:
        return gc.sweep(store, index)


# ------------------------------------------------------------------------------------- sweep


def test_sweep_keeps_everything_referenced_and_removes_orphans(store: Store) -> None:
    keep = populate(store)
    assert blobs(store) == keep
    orphan_image = write_image(store, [layer_tar({"o": b"orphan" * 50})])
    orphans = referenced_blobs(store, orphan_image)
    orphans.add(write_orphan(store, b"stray bytes"))
    expected_bytes = sum(blob_file(store, d).stat().st_size for d in orphans)
    before = names(store)

    report = sweep(store)

    assert set(report.removed) == orphans
    assert report.bytes_freed == expected_bytes
    assert report.deferred == () and report.problems == ()
    assert blobs(store) == keep
    assert names(store) == before
    assert sweep(store) == gc.SweepReport((), 0, 0)
    assert gc.fsck(store) == gc.FsckReport((), (), (), (), ())


def test_sweep_after_untag_frees_only_unshared_blobs(store: Store) -> None:
    populate(store)
    b = store.read_index().get("docker.io/library/b:1")
    assert b is not None
    manifest = store.read_manifest(b.digest)
    with store.locked() as index:
        index.remove_name("docker.io/library/b:1")
        index.remove_manifest(b.digest)
        report = gc.sweep(store, index)
    unique = {b.digest, manifest.config.digest, manifest.layers[1].digest}
    assert set(report.removed) == unique
    assert store.has_blob(manifest.layers[0].digest)  # BASE is shared with a and built
    assert gc.fsck(store).ok


def test_sweep_drops_layer_cache_of_removed_layers(store: Store) -> None:
    kept = add_image(store, "docker.io/library/k:1", [BASE])
    gone = write_image(store, [layer_tar({"g": b"g"})])
    kept_layer = store.read_manifest(kept.digest).layers[0].digest
    gone_layer = store.read_manifest(gone.digest).layers[0].digest
    for digest in (kept_layer, gone_layer):
        layers.layer_info(store, digest)
    cached = store.cache / "layers"
    assert {p.stem for p in cached.iterdir()} == {
        kept_layer.split(":")[1],
        gone_layer.split(":")[1],
    }
    sweep(store)
    assert {p.stem for p in cached.iterdir()} == {kept_layer.split(":")[1]}


def test_sweep_keeps_unreferenced_blobs_while_a_load_is_in_flight(store: Store) -> None:
    populate(store)
    with store.ingesting():
        fresh = write_image(store, [BASE, layer_tar({"new": b"new"})])
        report = sweep(store)
        assert report.removed == ()
        assert set(report.deferred) == referenced_blobs(store, fresh) - {
            store.read_manifest(fresh.digest).layers[0].digest
        }
        with store.locked() as index:
            index.set_name("docker.io/library/new:1", fresh)
    assert sweep(store).removed == ()
    assert gc.fsck(store).ok


def test_sweep_of_temp_files_spares_live_writers(store: Store) -> None:
    old = store.tmp / "blob-old"
    young = store.tmp / "blob-young"
    for p in (old, young):
        p.write_bytes(b"partial")
    past = time.time() - gc.TEMP_GRACE - 60
    os.utime(old, (past, past))
    with store.ingesting():
        assert sweep(store).temp_files_removed == 1
    assert not old.exists() and young.exists()
    assert sweep(store).temp_files_removed == 1  # nothing in flight: every temp file is stale
    assert not young.exists()


def test_sweep_removes_nothing_when_a_manifest_is_broken(store: Store) -> None:
    populate(store)
    b = store.read_index().get("docker.io/library/b:1")
    assert b is not None
    unique_layer = store.read_manifest(b.digest).layers[1].digest
    blob_file(store, b.digest).unlink()
    stray = write_orphan(store, b"stray")
    with store.locked() as index:
        index.remove_name("docker.io/library/built:1")
        report = gc.sweep(store, index)
    assert report.removed == ()
    assert stray in report.deferred and unique_layer in report.deferred
    assert any(b.digest in p for p in report.problems)
    assert store.has_blob(unique_layer)
    assert "docker.io/library/built:1" not in names(store)  # the caller's change still stands


def test_sweep_refuses_entries_it_cannot_look_into(store: Store) -> None:
    a = add_image(store, None, [layer_tar({"x": b"x"})])
    with store.locked() as index:
        index.remove_manifest(a.digest)
        index.add_dangling(Descriptor("application/octet-stream", a.digest, a.size))
    report = sweep(store)
    assert report.removed == ()
    assert report.problems and "media type" in report.problems[0]
    assert not gc.fsck(store).ok


# -------------------------------------------------------------------------------------- fsck


def test_fsck_of_a_sound_store_is_clean(store: Store) -> None:
    populate(store)
    report = gc.fsck(store)
    assert report.ok
    assert report == gc.FsckReport((), (), (), (), ())


def test_fsck_of_an_empty_store_is_clean(store: Store) -> None:
    assert gc.fsck(store).ok


def test_fsck_finds_a_missing_blob(store: Store) -> None:
    populate(store)
    a = store.read_index().get("docker.io/library/a:1")
    assert a is not None
    layer = store.read_manifest(a.digest).layers[1].digest
    blob_file(store, layer).unlink()
    report = gc.fsck(store)
    assert report.missing == (layer,)
    assert not report.ok
    assert report.orphans == () and report.corrupt == ()


def test_fsck_finds_a_missing_config_but_not_an_absent_dockerfile(store: Store) -> None:
    """The Dockerfile blob is optional (tools copying images may drop it); a config is not."""
    built = add_image(store, "docker.io/library/built:1", [BASE], dockerfile=b"FROM scratch\n")
    m = store.read_manifest(built.digest)
    dockerfile = m.annotations[oci.DOCKERFILE_ANNOTATION]
    blob_file(store, dockerfile).unlink()
    assert gc.fsck(store).ok
    blob_file(store, m.config.digest).unlink()
    assert set(gc.fsck(store).missing) == {m.config.digest}


def test_fsck_verifies_a_present_dockerfile(store: Store) -> None:
    built = add_image(store, "docker.io/library/built:1", [BASE], dockerfile=b"FROM scratch\n")
    dockerfile = store.read_manifest(built.digest).annotations[oci.DOCKERFILE_ANNOTATION]
    path = blob_file(store, dockerfile)
    path.write_bytes(b"FROM evil\n")
    assert dockerfile in gc.fsck(store).corrupt


def test_fsck_finds_a_corrupted_blob(store: Store) -> None:
    populate(store)
    a = store.read_index().get("docker.io/library/a:1")
    assert a is not None
    layer = store.read_manifest(a.digest).layers[0].digest
    path = blob_file(store, layer)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = gc.fsck(store)
    assert report.corrupt == (layer,)
    assert not report.ok and report.missing == ()


def test_fsck_finds_a_corrupted_child_of_an_image_index(store: Store) -> None:
    multi = add_index_image(store, "docker.io/library/multi:1")
    child = oci.parse_index(store.read_blob(multi.digest), "test")[1].digest
    path = blob_file(store, child)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":3'))
    assert gc.fsck(store).corrupt == (child,)


def test_fsck_reports_orphans_and_temp_files_without_failing(store: Store) -> None:
    populate(store)
    orphan = write_orphan(store, b"nobody wants me")
    (store.tmp / "blob-abc123").write_bytes(b"half a layer")
    report = gc.fsck(store)
    assert report.orphans == (orphan,)
    assert report.temp_files == (".imgtui/tmp/blob-abc123",)
    assert report.ok


def test_fsck_finds_an_unparsable_manifest(store: Store) -> None:
    digest, size = store.write_blob(b"{this is not json")
    with store.locked() as index:
        index.set_name("docker.io/library/broken:1", Descriptor(oci.OCI_MANIFEST, digest, size))
    report = gc.fsck(store)
    assert not report.ok
    assert len(report.problems) == 1 and digest in report.problems[0]
    assert report.missing == () and report.corrupt == ()


def test_fsck_finds_layer_count_and_size_mismatches(store: Store) -> None:
    good = write_image(store, [BASE, layer_tar({"x": b"x"})])
    m = store.read_manifest(good.digest)
    short = oci.Manifest(m.media_type, m.config, m.layers[:1])  # config lists two diff_ids
    digest, size = store.write_json_blob(short.to_json())
    with store.locked() as index:
        index.set_name("docker.io/library/short:1", Descriptor(oci.OCI_MANIFEST, digest, size))
        index.set_name("docker.io/library/liar:1", Descriptor(oci.OCI_MANIFEST, good.digest, 7))
    problems = gc.fsck(store).problems
    assert any("1 layers" in p and "2 diff_ids" in p for p in problems)
    assert any(good.digest in p and "7 are declared" in p for p in problems)


def test_fsck_reports_an_unreadable_index_and_repairs_nothing(store: Store) -> None:
    populate(store)
    (store.root / "index.json").write_text("{")
    count = len(blobs(store))
    report = gc.fsck(store, repair=True)
    assert not report.ok and "index.json" in report.problems[0]
    assert report.orphans == () and report.repaired is None
    assert len(blobs(store)) == count


# ------------------------------------------------------------------------------------ repair


def test_repair_removes_only_orphans_and_temp_files(store: Store) -> None:
    keep = populate(store)
    a = store.read_index().get("docker.io/library/a:1")
    assert a is not None
    m = store.read_manifest(a.digest)
    missing, corrupt = m.layers[1].digest, m.config.digest
    blob_file(store, missing).unlink()
    path = blob_file(store, corrupt)
    path.write_bytes(path.read_bytes() + b" ")
    orphan = write_orphan(store, b"orphan")
    (store.tmp / "blob-left").write_bytes(b"x")
    index_before = (store.root / "index.json").read_bytes()

    report = gc.fsck(store, repair=True)

    assert report.repaired is not None
    assert report.repaired.removed == (orphan,) and report.repaired.temp_files_removed == 1
    assert report.orphans == (orphan,) and report.temp_files == (".imgtui/tmp/blob-left",)
    assert report.missing == (missing,) and report.corrupt == (corrupt,)
    assert not report.ok
    assert blobs(store) == keep - {missing}  # the corrupt referenced blob is left alone
    assert (store.root / "index.json").read_bytes() == index_before


def test_repair_removes_a_corrupted_orphan(store: Store) -> None:
    populate(store)
    orphan = write_orphan(store, b"orphan")
    blob_file(store, orphan).write_bytes(b"rotted")
    found = gc.fsck(store)
    assert found.corrupt == (orphan,) and found.orphans == (orphan,)
    repaired = gc.fsck(store, repair=True)
    assert repaired.ok and repaired.orphans == (orphan,) and repaired.corrupt == ()
    assert repaired.repaired is not None and repaired.repaired.removed == (orphan,)
    assert gc.fsck(store) == gc.FsckReport((), (), (), (), ())


def test_repair_keeps_the_blobs_of_a_broken_manifest(store: Store) -> None:
    b = add_image(store, "docker.io/library/b:1", [BASE, layer_tar({"b": b"b"})])
    m = store.read_manifest(b.digest)
    blob_file(store, b.digest).write_bytes(b"garbage")
    report = gc.fsck(store, repair=True)
    assert report.corrupt == (b.digest,)
    assert report.repaired is not None and report.repaired.removed == ()
    assert all(store.has_blob(d.digest) for d in (m.config, *m.layers))
