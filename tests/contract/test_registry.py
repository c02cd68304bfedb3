"""push() and pull() against the loopback Distribution registry."""

from __future__ import annotations

import pytest

from imgtui.backends.base import (
    Backend,
    ImageNotFound,
    InvalidReference,
    LayerProgress,
    RegistryError,
)
from tests.contract.archives import LoadedImage
from tests.contract.harness import Harness, closed_port
from tests.contract.helpers import assert_user_message, of_type

pytestmark = [pytest.mark.engine, pytest.mark.registry, pytest.mark.needs("registry")]


def pushed(
    harness: Harness, backend: Backend, registry: str, tag: str = "v1"
) -> tuple[LoadedImage, str, list[object]]:
    """A fresh image with a layer no one else has, pushed to `{registry}/{repo}:{tag}`."""
    img = harness.put("layered", tags=("src",), extra_layer=True)
    remote = f"{registry}/{harness.repo}:{tag}"
    backend.tag(img.ref, remote)
    events = list(backend.push(remote))
    return img, remote, events


def remove_locally(harness: Harness, backend: Backend, img: LoadedImage) -> None:
    backend.remove(img.id, force=True)
    assert not harness.exists(img.id)


def test_push_then_pull_back(harness: Harness, backend: Backend, registry: str) -> None:
    img, remote, events = pushed(harness, backend, registry)
    progress = of_type(events, LayerProgress)
    assert progress, "push reports per-layer progress"
    assert any(p.status == "Pushed" for p in progress), {p.status for p in progress}
    assert all(p.layer for p in progress)
    digests = backend.inspect(remote).repo_digests
    repo_digest = [d for d in digests if d.startswith(f"{registry}/{harness.repo}@sha256:")]
    assert len(repo_digest) == 1, digests

    remove_locally(harness, backend, img)
    events = list(backend.pull(remote))
    progress = of_type(events, LayerProgress)
    assert progress, "pull reports per-layer progress"
    assert any(p.status == "Pull complete" for p in progress), {p.status for p in progress}
    detail = backend.inspect(remote)
    assert detail.id == img.id, "the image id (config digest) survives the round trip"
    assert detail.layers == img.diff_ids
    assert repo_digest[0] in detail.repo_digests
    assert remote in detail.repo_tags


def test_pull_by_digest(harness: Harness, backend: Backend, registry: str) -> None:
    img, remote, _ = pushed(harness, backend, registry)
    [digest_ref] = [d for d in backend.inspect(remote).repo_digests if d.startswith(f"{registry}/")]
    remove_locally(harness, backend, img)
    list(backend.pull(digest_ref))
    assert backend.inspect(digest_ref).id == img.id


def test_pull_implicit_latest_with_platform(
    harness: Harness, backend: Backend, registry: str
) -> None:
    img, remote, _ = pushed(harness, backend, registry, tag="latest")
    remove_locally(harness, backend, img)
    platform = f"{img.config['os']}/{img.config['architecture']}"
    list(backend.pull(f"{registry}/{harness.repo}", platform=platform))
    assert backend.inspect(remote).id == img.id


def test_pull_unknown_tag(harness: Harness, backend: Backend, registry: str) -> None:
    pushed(harness, backend, registry)
    missing = f"{registry}/{harness.repo}:no-such-tag"
    with pytest.raises(ImageNotFound) as e:
        list(backend.pull(missing))
    assert_user_message(e.value, "no-such-tag")
    assert not harness.exists(missing)


def test_pull_unknown_repository(harness: Harness, backend: Backend, registry: str) -> None:
    missing = f"{registry}/{harness.repo}-never-pushed:v1"
    with pytest.raises(ImageNotFound) as e:
        list(backend.pull(missing))
    assert_user_message(e.value, f"{harness.repo}-never-pushed")


@pytest.mark.parametrize(
    "ref", ["Imgtui-Test/UPPER:v1", "imgtui-test/x:bad tag", "imgtui-test/x::v1"]
)
def test_pull_invalid_reference(backend: Backend, ref: str) -> None:
    with pytest.raises(InvalidReference) as e:
        list(backend.pull(ref))
    assert_user_message(e.value)


def test_push_an_image_that_is_not_there(harness: Harness, backend: Backend, registry: str) -> None:
    missing = f"{registry}/{harness.repo}:not-local"
    with pytest.raises(ImageNotFound) as e:
        list(backend.push(missing))
    assert_user_message(e.value, f"{registry}/{harness.repo}")


def test_push_invalid_reference(backend: Backend) -> None:
    with pytest.raises(InvalidReference) as e:
        list(backend.push("Imgtui-Test/UPPER:v1"))
    assert_user_message(e.value)


def test_registry_not_listening(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    remote = f"127.0.0.1:{closed_port()}/{harness.repo}:v1"
    backend.tag(img.ref, remote)
    with pytest.raises(RegistryError) as e:
        list(backend.push(remote))
    assert_user_message(e.value, remote.split("/")[0])
    with pytest.raises(RegistryError) as e:
        list(backend.pull(remote))
    assert_user_message(e.value, remote.split("/")[0])
