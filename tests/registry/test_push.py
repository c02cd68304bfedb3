"""Push from the built-in store; interop with skopeo and the real engine."""

from __future__ import annotations

import json
import subprocess

import pytest

from imgtui.backends.builtin import BuiltinBackend
from imgtui.store.layout import Store
from tests.registry.helpers import assert_clean, lines, pull, push, statuses
from tests.registry.images import make_image

pytestmark = pytest.mark.registry


def skopeo(*args: str) -> str:
    out = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_push_lines_and_skopeo_reads_it(
    registry: str, unique_repo: str, store: Store, cli, tmp_path
) -> None:
    ref = f"{registry}/{unique_repo}:v1"
    m = make_image(store, ref, "push-basic", layers=3)
    out = cli("push", ref)
    assert out.returncode == 0, out.stderr
    text = out.stdout.splitlines()
    assert text[0] == f"The push refers to repository [{registry}/{unique_repo}]"
    assert sum(1 for t in text if t.endswith(": Pushed")) == 3
    assert text[-1] == f"v1: digest: {m.digest} size: {m.size}"

    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))
    assert inspected["Digest"] == m.digest
    manifest = store.read_manifest(m.digest)
    assert inspected["Layers"] == [d.digest for d in manifest.layers]
    skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'copy'}:v1")
    index = json.loads((tmp_path / "copy" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == m.digest

    repo_digest = f"{registry}/{unique_repo}@{m.digest}"
    assert repo_digest in BuiltinBackend(store.root).inspect(ref).repo_digests
    again = cli("push", ref)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Layer already exists") == 3


def test_chunked_upload_and_mount(
    proxy, unique_repo: str, store: Store, other_store: Store
) -> None:
    first = f"{proxy.host}/{unique_repo}-a:v1"
    m = make_image(store, first, "chunked", layers=2, layer_size=200 << 10)
    events = push(store, first, m, chunked_from=50 << 10, chunk_size=64 << 10)
    assert "Pushed" in statuses(events)
    assert lines(events)[-1] == f"v1: digest: {m.digest} size: {m.size}"
    patches = [p for method, p, _ in proxy.log if method == "PATCH"]
    assert len(patches) == 2 * 4, patches  # two ~200 KiB layers in 64 KiB chunks

    # the same image under another repository: its blobs are mounted, not uploaded again
    second = f"{proxy.host}/{unique_repo}-b:v1"
    BuiltinBackend(store.root).tag(first, second)
    proxy.clear()
    events = push(store, second, m)
    assert statuses(events) >= {f"Mounted from {unique_repo}-a"}, statuses(events)
    assert "Pushed" not in statuses(events)
    mounts = [p for method, p, _ in proxy.log if method == "POST" and "mount=" in p]
    assert len(mounts) == 3 and all(
        f"from={unique_repo}-a" in p.replace("%2F", "/") for p in mounts
    )
    pulled = pull(other_store, second)
    assert f"Digest: {m.digest}" in lines(pulled)
    assert_clean(other_store)


def test_skopeo_pushes_imgtui_pulls(
    registry: str, unique_repo: str, tmp_path, store: Store
) -> None:
    """skopeo converts to Docker schema 2 on the way; imgtui pulls the very same digests."""
    src = Store.open(tmp_path / "src")
    make_image(src, None, "skopeo-src", layers=2)
    layout = tmp_path / "layout"
    subprocess.run(["cp", "-a", str(src.root), str(layout)], check=True)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
    (layout / "index.json").write_text(json.dumps(index))
    ref = f"{registry}/{unique_repo}:v1"
    skopeo(
        "copy", "--dest-tls-verify=false", "--format", "v2s2", f"oci:{layout}:v1", f"docker://{ref}"
    )
    remote = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}"))
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}"))
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    events = pull(store, ref)
    assert f"Digest: {remote['Digest']}" in lines(events)
    stored = store.read_manifest(remote["Digest"])
    assert stored.media_type == raw["mediaType"]
    assert [d.digest for d in stored.layers] == remote["Layers"]
    assert_clean(store)


@pytest.mark.engine
def test_engine_pulls_what_imgtui_pushed(
    registry: str, unique_repo: str, store: Store, docker_client
) -> None:
    from imgtui import demo

    names = demo.make_demo(store)
    backend = BuiltinBackend(store.root)
    source = names[0]
    ref = f"{registry}/{unique_repo}:demo"
    backend.tag(source, ref)
    events = list(backend.push(ref))
    digest = lines(events)[-1].split()[2]
    image = docker_client.images.pull(f"{registry}/{unique_repo}", tag="demo")
    try:
        assert image.id == backend.inspect(ref).id
        assert f"{registry}/{unique_repo}@{digest}" in image.attrs["RepoDigests"]
    finally:
        docker_client.images.remove(image.id, force=True)
