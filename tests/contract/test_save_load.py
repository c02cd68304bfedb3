"""save() and load(): round trips, real `docker save` archives, and refused input."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from imgtui.backends.base import (
    Backend,
    BackendError,
    ImageNotFound,
    InvalidArgument,
    StatusLine,
)
from tests.contract.archives import archive_manifest, variant
from tests.contract.harness import Harness
from tests.contract.helpers import assert_user_message, of_type

pytestmark = pytest.mark.engine


def test_save_two_tags_and_load_them_back(
    harness: Harness, backend: Backend, tmp_path: Path
) -> None:
    img = harness.put("layered", tags=("one", "two"), extra_layer=True)
    other = harness.put("configured", tags=("three",))
    dest = tmp_path / "out.tar"
    list(backend.save([harness.ref("one"), harness.ref("two"), other.ref], dest))
    assert dest.is_file() and tarfile.is_tarfile(dest)
    manifest = archive_manifest(dest)
    tags = sorted(t for entry in manifest for t in entry.get("RepoTags") or ())
    assert tags == sorted([harness.ref("one"), harness.ref("two"), other.ref])
    assert not list(tmp_path.glob("*.part")), "no temp files left beside the archive"

    backend.remove(img.id, force=True)
    backend.remove(other.id, force=True)
    assert not harness.exists(img.id) and not harness.exists(other.id)

    events = list(backend.load(dest))
    lines = [e.text for e in of_type(events, StatusLine)]
    assert any(harness.ref("one") in line for line in lines), lines
    d = backend.inspect(harness.ref("one"))
    assert d.id == img.id
    assert sorted(d.repo_tags) == sorted(img.refs)
    assert d.layers == img.diff_ids
    assert backend.inspect(other.ref).id == other.id


def test_save_by_id_loads_untagged(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    img = harness.put("layered", tags=("t",), extra_layer=True)
    dest = tmp_path / "by-id.tar"
    list(backend.save([img.id], dest))
    backend.remove(img.id, force=True)
    events = list(backend.load(dest))
    assert events
    d = backend.inspect(img.id)
    assert d.repo_tags == ()
    assert d.layers == img.diff_ids


def test_load_a_docker_save_archive(harness: Harness, backend: Backend) -> None:
    source = harness.sources["configured"]
    events = list(backend.load(source.path))
    harness.track_image(source.id)
    lines = " ".join(e.text for e in of_type(events, StatusLine))
    assert source.tag in lines
    assert backend.inspect(source.tag).id == source.id


def test_load_reports_the_loaded_tags(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    archive = tmp_path / "v.tar"
    img = variant(harness.sources["layered"], archive, [harness.ref("a"), harness.ref("b")])
    harness.track_image(img.id)
    events = list(backend.load(archive))
    text = " ".join(e.text for e in of_type(events, StatusLine))
    assert harness.ref("a") in text and harness.ref("b") in text
    assert sorted(backend.inspect(img.id).repo_tags) == sorted(img.refs)


def test_save_unknown_image(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    img = harness.put("layered")
    missing = harness.ref("missing")
    dest = tmp_path / "out.tar"
    with pytest.raises(ImageNotFound) as e:
        list(backend.save([img.ref, missing], dest))
    assert_user_message(e.value, missing)
    assert not dest.exists(), "a failed save leaves no archive behind"
    assert list(tmp_path.iterdir()) == [], "nor any temp file"


@pytest.mark.parametrize(
    "content",
    [b"this is not a tar archive\n" * 100, b""],
    ids=["garbage", "empty"],
)
def test_load_a_bad_archive(
    harness: Harness, backend: Backend, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(content)
    with pytest.raises(InvalidArgument) as e:
        list(backend.load(bad))
    assert_user_message(e.value)


def test_load_a_tar_without_an_image(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    bad = tmp_path / "no-image.tar"
    hello = tmp_path / "hello.txt"
    hello.write_text("hello\n")
    with tarfile.open(bad, "w") as tar:
        tar.add(hello, arcname="hello.txt")
    with pytest.raises(InvalidArgument) as e:
        list(backend.load(bad))
    assert_user_message(e.value)


def test_load_a_missing_file(backend: Backend, tmp_path: Path) -> None:
    missing = tmp_path / "nope.tar"
    with pytest.raises(BackendError) as e:
        list(backend.load(missing))
    assert isinstance(e.value, InvalidArgument)
    assert_user_message(e.value, "nope.tar")
