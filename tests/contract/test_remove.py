"""remove(): untag vs delete, no_prune, images in use, force, unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtui.backends.base import Backend, Conflict, ImageNotFound, RemoveResult
from tests.contract.harness import BASE_REF, Harness
from tests.contract.helpers import assert_user_message, build, ids

pytestmark = pytest.mark.engine


def test_remove_a_tag_while_others_remain_only_untags(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("a", "b"))
    result = backend.remove(harness.ref("a"))
    assert isinstance(result, RemoveResult)
    assert result.untagged == (harness.ref("a"),)
    assert result.deleted == ()
    assert result.lines == (f"Untagged: {harness.ref('a')}",)
    assert backend.inspect(img.id).repo_tags == (harness.ref("b"),)


def test_remove_the_last_tag_deletes_the_image(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("only",), extra_layer=True)
    result = backend.remove(img.ref)
    assert result.untagged == (img.ref,)
    assert img.id in result.deleted
    assert result.lines[0] == f"Untagged: {img.ref}"
    assert f"Deleted: {img.id}" in result.lines
    assert not harness.exists(img.id)
    with pytest.raises(ImageNotFound):
        backend.inspect(img.id)


def test_remove_a_dangling_image_by_id(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=())
    result = backend.remove(img.id)
    assert result.untagged == ()
    assert img.id in result.deleted
    assert not harness.exists(img.id)


def test_remove_by_id_with_several_tags_needs_force(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("x", "y"))
    with pytest.raises(Conflict) as e:
        backend.remove(img.id)
    assert_user_message(e.value, img.id.removeprefix("sha256:")[:12])
    assert harness.exists(img.id)

    result = backend.remove(img.id, force=True)
    assert sorted(result.untagged) == sorted(img.refs)
    assert img.id in result.deleted
    assert not harness.exists(img.id)


def _built_with_parents(harness: Harness, backend: Backend, ctx: Path) -> tuple[str, str]:
    harness.ensure_base()
    _, result = build(
        backend,
        ctx,
        "FROM imgtui-test/busybox:latest\nRUN echo one > /one\nRUN echo two > /two\n",
        tags=[harness.ref("built")],
    )
    parent = backend.inspect(result.image_id).parent_id
    assert parent, "a build step's parent image must be recorded"
    harness.track_image(parent)
    return result.image_id, parent


@pytest.mark.needs("build")
@pytest.mark.needs("intermediate-images")
def test_remove_prunes_untagged_parents(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    image_id, parent = _built_with_parents(harness, backend, tmp_path / "ctx")
    result = backend.remove(harness.ref("built"))
    assert image_id in result.deleted
    assert parent in result.deleted
    assert not harness.exists(parent)
    assert harness.exists(BASE_REF), "tagged ancestors stay"


@pytest.mark.needs("build")
@pytest.mark.needs("intermediate-images")
def test_remove_no_prune_keeps_parents(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    image_id, parent = _built_with_parents(harness, backend, tmp_path / "ctx")
    result = backend.remove(harness.ref("built"), no_prune=True)
    assert result.untagged == (harness.ref("built"),)
    assert result.deleted[0] == image_id
    assert parent not in result.deleted
    assert harness.exists(parent)
    assert parent in ids(backend.images(all=True))


def test_remove_an_image_used_by_a_container_is_refused(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("used",))
    container = harness.container_using(img.ref)
    with pytest.raises(Conflict) as e:
        backend.remove(img.ref)
    text = assert_user_message(e.value)
    assert container.id[:12] in text or container.name in text, (
        f"the message must name the container: {text!r}"
    )
    assert backend.inspect(img.ref).id == img.id


def test_force_removes_an_image_used_by_a_stopped_container(
    harness: Harness, backend: Backend
) -> None:
    img = harness.put("layered", tags=("used",))
    container = harness.container_using(img.ref)
    result = backend.remove(img.ref, force=True)
    assert result.untagged == (img.ref,)
    assert img.id in result.deleted
    assert not harness.exists(img.id)
    assert harness.container_exists(container.id)


@pytest.mark.needs("run")
def test_an_image_used_by_a_running_container_cannot_be_forced_away(
    harness: Harness, backend: Backend
) -> None:
    img = harness.put("layered", tags=("running",))
    container = harness.running_container(img.ref)
    with pytest.raises(Conflict) as e:
        backend.remove(img.id, force=True)
    text = assert_user_message(e.value)
    assert container.id[:12] in text or container.name in text, text
    assert harness.exists(img.id)


def test_remove_unknown_image(harness: Harness, backend: Backend) -> None:
    missing = harness.ref("missing")
    with pytest.raises(ImageNotFound) as e:
        backend.remove(missing)
    assert_user_message(e.value, missing)
