"""Pull into the built-in store from the real Distribution registry, anonymous."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from imgtui.backends.base import ImageNotFound, InvalidReference, LayerProgress
from imgtui.backends.builtin import BuiltinBackend
from imgtui.registry import pull as pull_mod
from imgtui.store import archive, gc, oci
from imgtui.store.layout import Store
from tests.registry.helpers import assert_clean, lines, pull, push, statuses
from tests.registry.images import make_image, oci_layout_with_index

pytestmark = pytest.mark.registry


def test_pull_is_docker_pull(registry: str, unique_repo: str, store: Store, tmp_path, cli) -> None:
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:v1"
    m = make_image(src, ref, "pull-basic", layers=3)
    push(src, ref, m)

    out = cli("pull", ref)
    assert out.returncode == 0, out.stderr
    text = out.stdout.splitlines()
    assert text[0] == f"v1: Pulling from {unique_repo}"
    assert f"Digest: {m.digest}" in text
    assert f"Status: Downloaded newer image for {ref}" in text
    assert text[-1] == ref
    assert sum(1 for t in text if t.endswith(": Pull complete")) == 3

    backend = BuiltinBackend(store.root)
    detail = backend.inspect(ref)
    assert detail.id == src.read_manifest(m.digest).config.digest
    assert f"{registry}/{unique_repo}@{m.digest}" in detail.repo_digests
    # the manifest is kept byte for byte: same digest as the registry's
    assert store.read_blob(m.digest) == src.read_blob(m.digest)
    assert_clean(store)

    again = cli("pull", ref)
    assert again.returncode == 0, again.stderr
    assert f"Status: Image is up to date for {ref}" in again.stdout
    assert "Already exists" in again.stdout


def test_pull_by_digest_and_default_tag(
    registry: str, unique_repo: str, store: Store, tmp_path
) -> None:
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:latest"
    m = make_image(src, ref, "pull-digest", docker_types=True)
    push(src, ref, m)

    events = pull(store, f"{registry}/{unique_repo}@{m.digest}")
    assert lines(events)[-1] == f"{registry}/{unique_repo}@{m.digest}"
    backend = BuiltinBackend(store.root)
    assert backend.inspect(f"{registry}/{unique_repo}@{m.digest}").repo_tags == ()

    events = pull(store, f"{registry}/{unique_repo}")
    assert lines(events)[0] == "Using default tag: latest"
    assert backend.inspect(ref).repo_tags == (ref,)
    assert "Already exists" in statuses(events)


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_multi_platform_index(
    registry: str, unique_repo: str, store: Store, tmp_path, fmt: str
) -> None:
    """skopeo pushes an OCI index or a Docker manifest list of two platforms; the host's is the
    default, --platform picks another."""
    made = oci_layout_with_index(tmp_path / "multi", "multi", ("amd64", "arm64"))
    ref = f"{registry}/{unique_repo}:multi"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--dest-tls-verify=false",
            *(["--format", fmt] if fmt != "oci" else []),
            f"oci:{tmp_path / 'multi' / 'layout'}:multi",
            f"docker://{ref}",
        ],
        check=True,
        capture_output=True,
    )
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        check=True,
        capture_output=True,
    ).stdout
    expected_type = oci.OCI_INDEX if fmt == "oci" else oci.DOCKER_MANIFEST_LIST
    assert json.loads(raw)["mediaType"] == expected_type
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert fmt != "oci" or digest == made  # v2s2: skopeo rewrote the index as a manifest list
    backend = BuiltinBackend(store.root)
    events = pull(store, ref, platform="linux/arm64")
    assert f"Digest: {digest}" in lines(events)
    assert backend.inspect(ref).architecture == "arm64"
    assert f"{registry}/{unique_repo}@{digest}" in backend.inspect(ref).repo_digests

    pull(store, ref)  # this machine's platform
    assert backend.inspect(ref).architecture == archive.host_platform()[1]
    with pytest.raises(ImageNotFound, match="no matching manifest for linux/s390x"):
        pull(store, ref, platform="linux/s390x")
    assert_clean(store)


def test_unknown_tag_and_repository(registry: str, unique_repo: str, store: Store, cli) -> None:
    with pytest.raises(ImageNotFound, match=f"{unique_repo}"):
        pull(store, f"{registry}/{unique_repo}:nope")
    out = cli("pull", f"{registry}/{unique_repo}:nope")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1
    assert unique_repo in out.stderr
    assert store.read_index().entries == []


def test_bad_reference_and_platform(registry: str, store: Store, cli) -> None:
    with pytest.raises(InvalidReference):
        pull(store, f"{registry}/Upper/Case:v1")
    out = cli("pull", "--platform", "linux", f"{registry}/x/y:v1")
    assert out.returncode == 2, out
    assert "os/arch" in out.stderr


def test_resumes_a_partial_download(
    registry: str, unique_repo: str, store: Store, tmp_path, proxy
) -> None:
    """A partial file an interrupted pull left is continued with Range, then verified."""
    src = Store.open(tmp_path / "src")
    ref = f"{proxy.host}/{unique_repo}:v1"
    m = make_image(src, f"{registry}/{unique_repo}:v1", "resume", layers=1, layer_size=1 << 20)
    push(src, f"{registry}/{unique_repo}:v1", m)
    layer = src.read_manifest(m.digest).layers[0]
    blob = src.read_blob(layer.digest, limit=layer.size)
    partial = store.tmp / f"pull-{layer.digest.removeprefix('sha256:')}.partial"
    partial.write_bytes(blob[: len(blob) // 3])

    pull(store, ref)
    ranges = [r for method, path, r in proxy.log if layer.digest in path and method == "GET"]
    assert ranges == [f"bytes={len(blob) // 3}-"]
    assert store.read_blob(layer.digest, limit=layer.size) == blob
    assert not partial.exists()
    assert_clean(store)


def test_interrupted_pull_leaves_nothing_named(
    registry: str, unique_repo: str, store: Store, tmp_path
) -> None:
    """The consumer stops mid-pull: blobs may stay, no name appears, fsck is clean, re-run works."""
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:v1"
    m = make_image(src, ref, "interrupt", layers=4, layer_size=256 << 10)
    push(src, ref, m)
    gen = pull_mod.pull(store, ref, workers=1)
    for event in gen:
        if getattr(event, "status", "") == "Download complete":
            break
    gen.close()
    assert store.read_index().entries == []
    assert_clean(store)
    events = pull(store, ref)
    assert "Already exists" in statuses(events)
    assert BuiltinBackend(store.root).inspect(ref).id == src.read_manifest(m.digest).config.digest
    assert gc.fsck(store).orphans == ()


def test_pull_and_push_report_each_layers_speed(
    registry: str, unique_repo: str, store: Store, tmp_path
) -> None:
    """Downloading and Pushing events carry bytes, total and a measured speed (bytes/s)."""
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:speed"
    m = make_image(src, ref, "speed", layers=2, layer_size=3 << 20)
    pushed = push(src, ref, m)
    pulled = pull(store, ref)
    for events, status in ((pushed, "Pushing"), (pulled, "Downloading")):
        moving = [e for e in events if isinstance(e, LayerProgress) and e.status == status]
        layers = {pull_mod.short(d.digest) for d in src.read_manifest(m.digest).layers}
        assert {e.layer for e in moving} == layers, status
        for e in moving:
            assert e.total and e.current is not None and 0 < e.current <= e.total, e
            assert e.rate is not None and e.rate > 0, e
