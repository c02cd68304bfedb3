"""Faults injected between client and registry: right outcome, one clear line, store untouched."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from imgtui.backends.base import AuthError, RegistryError
from imgtui.registry.client import RegistryClient
from imgtui.store.layout import Store
from tests.registry.helpers import assert_clean, pull, push
from tests.registry.images import make_image
from tests.registry.services import Fault, FaultProxy

pytestmark = pytest.mark.registry

IMGTUI = (sys.executable, "-m", "imgtui", "--backend", "builtin")


@pytest.fixture
def image(registry: str, unique_repo: str, tmp_path):
    """An image pushed straight to the registry; tests pull it through the proxy."""
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:v1"
    m = make_image(src, ref, f"faults-{unique_repo}", layers=2, layer_size=300 << 10)
    push(src, ref, m)
    return src, m


def _via(proxy: FaultProxy, unique_repo: str) -> str:
    return f"{proxy.host}/{unique_repo}:v1"


def _client(proxy: FaultProxy, **kw) -> RegistryClient:
    return RegistryClient(proxy.host, backoff=0.01, **kw)


def _unchanged(store: Store) -> None:
    assert store.read_index().entries == []
    assert_clean(store)


def test_wrong_digest_is_refused(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "corrupt", times=100))
    with pytest.raises(RegistryError) as e:
        pull(store, _via(proxy, unique_repo), client=_client(proxy))
    message = str(e.value)
    assert "\n" not in message and "content has digest" in message, message
    _unchanged(store)
    assert not list(store.tmp.iterdir()), "bad bytes are not kept for resuming"


def test_wrong_manifest_digest_is_refused(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/manifests/", "corrupt", times=100))
    with pytest.raises(RegistryError, match=r"digest|JSON"):
        pull(store, _via(proxy, unique_repo), client=_client(proxy))
    _unchanged(store)


def test_truncated_body_is_resumed(proxy, image, unique_repo, store) -> None:
    src, m = image
    layer = src.read_manifest(m.digest).layers[0]
    proxy.arm(Fault(rf"GET /v2/.*/blobs/{layer.digest}", "truncate", times=1))
    pull(store, _via(proxy, unique_repo), client=_client(proxy))
    ranges = [r for method, path, r in proxy.log if layer.digest in path and method == "GET"]
    assert len(ranges) == 2 and ranges[0] == "" and ranges[1].startswith("bytes="), ranges
    assert store.has_blob(layer.digest)
    assert_clean(store)


def test_truncated_large_blob_is_resumed(proxy, registry, unique_repo, tmp_path, store) -> None:
    """A blob big enough for direct I/O, cut at an unaligned offset: resumed, bytes exact."""
    src = Store.open(tmp_path / "src")
    ref = f"{registry}/{unique_repo}:v1"
    m = make_image(src, ref, "large", layers=1, layer_size=(6 << 20) + 1234)
    push(src, ref, m)
    layer = src.read_manifest(m.digest).layers[0]
    assert layer.size // 2 % 4096, "the cut must fall inside a block"
    proxy.arm(Fault(rf"GET /v2/.*/blobs/{layer.digest}", "truncate", times=1))
    pull(store, _via(proxy, unique_repo), client=_client(proxy))
    ranges = [r for method, path, r in proxy.log if layer.digest in path and method == "GET"]
    assert ranges == ["", f"bytes={layer.size // 2}-"], ranges
    assert store.blob_path(layer.digest).read_bytes() == src.blob_path(layer.digest).read_bytes()
    assert_clean(store)


def test_always_truncated_fails_cleanly(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "truncate", times=1000))
    with pytest.raises(RegistryError) as e:
        pull(store, _via(proxy, unique_repo), client=_client(proxy, attempts=3))
    assert "attempts" in str(e.value) and "\n" not in str(e.value)
    _unchanged(store)


def test_server_error_then_success(proxy, image, unique_repo, store) -> None:
    proxy.arm(
        Fault(r"GET /v2/.*/manifests/", "status500", times=1),
        Fault(r"GET /v2/.*/blobs/sha256:", "status500", times=2),
    )
    pull(store, _via(proxy, unique_repo), client=_client(proxy))
    assert [p for m, p, _ in proxy.log if "/manifests/" in p].count(
        f"/v2/{unique_repo}/manifests/v1"
    ) == 2
    assert len(store.read_index().entries) == 2  # the tag and the repo digest
    assert_clean(store)


def test_persistent_server_error(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "status500", times=1000))
    with pytest.raises(RegistryError, match="injected failure"):
        pull(store, _via(proxy, unique_repo), client=_client(proxy, attempts=2))
    _unchanged(store)


def test_dropped_connection_is_retried(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "drop", times=1))
    pull(store, _via(proxy, unique_repo), client=_client(proxy))
    assert_clean(store)


def test_slow_answers_time_out(proxy, image, unique_repo, store) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "slow", times=1000, delay=1.5))
    with pytest.raises(RegistryError) as e:
        pull(store, _via(proxy, unique_repo), client=_client(proxy, timeout=0.5, attempts=2))
    assert "timed out" in str(e.value), e.value
    _unchanged(store)


def test_cli_reports_one_line(proxy, image, unique_repo, cli, monkeypatch) -> None:
    proxy.arm(Fault(r"GET /v2/.*/blobs/sha256:", "corrupt", times=1000))
    out = cli("pull", _via(proxy, unique_repo))
    assert out.returncode == 1
    err = out.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and "digest" in err[0], out.stderr


@pytest.mark.parametrize(
    ("layer_size", "landed"),
    [(2 << 20, 256 << 10), ((6 << 20) + 99, 1 << 20)],  # buffered writes; direct (1 MiB at once)
    ids=["buffered", "direct"],
)
def test_killed_pull_then_resumed(
    proxy, registry, unique_repo, tmp_path, cli, layer_size, landed
) -> None:
    """kill -9 mid-download: nothing named, fsck clean; the re-run resumes with Range."""
    src = Store.open(tmp_path / "src")
    m = make_image(src, f"{registry}/{unique_repo}:v1", "killed", layers=1, layer_size=layer_size)
    push(src, f"{registry}/{unique_repo}:v1", m)
    layer = src.read_manifest(m.digest).layers[0]
    proxy.arm(Fault(rf"GET /v2/.*/blobs/{layer.digest}", "trickle", times=1, delay=0.05))
    store_dir = tmp_path / "store"
    proc = subprocess.Popen(
        [*IMGTUI, "--store", str(store_dir), "pull", _via(proxy, unique_repo)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = store_dir / ".imgtui" / "tmp" / f"pull-{layer.digest.removeprefix('sha256:')}.partial"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if partial.exists() and partial.stat().st_size >= landed:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    got = partial.stat().st_size
    assert got >= landed
    store = Store.open(store_dir)
    _unchanged(store)

    proxy.clear()
    out = cli("pull", _via(proxy, unique_repo))
    assert out.returncode == 0, out.stderr
    ranges = [r for method, path, r in proxy.log if layer.digest in path and method == "GET"]
    assert len(ranges) == 1 and int(ranges[0].removeprefix("bytes=").rstrip("-")) >= got
    assert_clean(store)
    assert store.has_blob(layer.digest)


def test_push_retries_server_errors(proxy, unique_repo, store) -> None:
    ref = f"{proxy.host}/{unique_repo}:v1"
    m = make_image(store, ref, f"push-retry-{unique_repo}", layers=2)
    proxy.arm(
        Fault(r"PUT /v2/.*/blobs/uploads/", "status500", times=1),
        Fault(r"PUT /v2/.*/manifests/", "status500", times=1),
    )
    events = push(store, ref, m, client=_client(proxy))
    assert events[-1].text == f"v1: digest: {m.digest} size: {m.size}"
    assert sum(1 for method, p, _ in proxy.log if method == "PUT" and "/manifests/" in p) == 2


def test_push_gives_up_with_one_line(proxy, unique_repo, store) -> None:
    ref = f"{proxy.host}/{unique_repo}:v1"
    m = make_image(store, ref, f"push-fail-{unique_repo}", layers=1)
    proxy.arm(Fault(r"POST /v2/.*/blobs/uploads/", "status500", times=1000))
    with pytest.raises(RegistryError) as e:
        push(store, ref, m, client=_client(proxy, attempts=2))
    assert "injected failure" in str(e.value) and "\n" not in str(e.value)
    names = [e.name for e in store.read_index().entries]
    assert names == [f"{proxy.host}/{unique_repo}:v1"], "no repo digest recorded for a failed push"


def test_unauthorized_with_bad_credentials(proxy, image, unique_repo, store, docker_config) -> None:
    """The registry keeps answering 401 to the credentials config.json holds: AuthError, once."""
    token = base64.b64encode(b"alice:wrong").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {proxy.host: {"auth": token}}}))
    proxy.arm(Fault(r"GET /v2/.*/manifests/", "unauthorized", times=1000))
    with pytest.raises(AuthError) as e:
        pull(store, _via(proxy, unique_repo), client=_client(proxy))
    assert "bad credentials" in str(e.value) and "\n" not in str(e.value)
    sent = [m for m, p, _ in proxy.log if "/manifests/" in p]
    assert len(sent) == 2, "one challenge answered, then the refusal is final (no retry storm)"
    _unchanged(store)
