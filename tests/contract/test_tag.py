"""tag(): new names appear, sources stay, bad names and unknown sources are refused."""

from __future__ import annotations

import pytest

from imgtui.backends.base import (
    Backend,
    ImageNotFound,
    InvalidArgument,
    InvalidReference,
)
from tests.contract.harness import Harness
from tests.contract.helpers import assert_user_message, by_id

pytestmark = pytest.mark.engine


def test_tag_adds_a_name(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("src",))
    target = harness.ref("dst")
    assert backend.tag(img.ref, target) is None
    [s] = by_id(backend.images(), img.id)
    assert sorted(s.repo_tags) == sorted([img.ref, target])
    assert backend.inspect(target).id == img.id
    assert harness.exists(target)


def test_tag_by_id_and_without_a_tag_means_latest(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=())
    backend.tag(img.id, harness.repo)
    assert backend.inspect(harness.ref("latest")).id == img.id
    short = img.id.removeprefix("sha256:")[:12]
    backend.tag(short, harness.ref("from-short-id"))
    assert set(backend.inspect(img.id).repo_tags) == {
        harness.ref("latest"),
        harness.ref("from-short-id"),
    }


def test_tag_with_a_registry_host_and_port(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    target = f"127.0.0.1:5999/{harness.repo}:remote"
    backend.tag(img.ref, target)
    assert target in backend.inspect(img.id).repo_tags


def test_tag_moves_an_existing_name(harness: Harness, backend: Backend) -> None:
    first = harness.put("layered", tags=("shared",))
    second = harness.put("layered", tags=("second",))
    backend.tag(second.ref, harness.ref("shared"))
    assert backend.inspect(harness.ref("shared")).id == second.id
    assert backend.inspect(first.id).repo_tags == ()


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("Imgtui-Test/UPPER:tag", "lowercase"),
        ("imgtui-test/x:bad tag", ""),
        ("imgtui-test/x::double", ""),
        ("-leading-dash/x:tag", ""),
        ("imgtui-test/x:" + "t" * 129, ""),
        ("", ""),
    ],
    ids=["uppercase", "space", "double-colon", "leading-dash", "tag-too-long", "empty"],
)
def test_tag_to_an_invalid_reference(
    harness: Harness, backend: Backend, target: str, why: str
) -> None:
    img = harness.put("layered")
    with pytest.raises(InvalidReference) as e:
        backend.tag(img.ref, target)
    text = assert_user_message(e.value, why)
    assert "reference" in text.lower() or "tag" in text.lower() or "repository" in text.lower()
    assert backend.inspect(img.id).repo_tags == (img.ref,)


def test_tag_to_a_digest_is_refused(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    with pytest.raises((InvalidReference, InvalidArgument)) as e:
        backend.tag(img.ref, f"{harness.repo}@sha256:{'a' * 64}")
    assert_user_message(e.value, "digest")


def test_tag_an_unknown_image(harness: Harness, backend: Backend) -> None:
    missing = harness.ref("missing")
    with pytest.raises(ImageNotFound) as e:
        backend.tag(missing, harness.ref("target"))
    assert_user_message(e.value, missing)
    assert not harness.exists(harness.ref("target"))
