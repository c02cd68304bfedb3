"""commit(): a container's changes become a new image with the message, author and changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtui.backends.base import (
    Backend,
    ContainerNotFound,
    InvalidArgument,
    InvalidReference,
)
from tests.contract.archives import read_file
from tests.contract.harness import Harness
from tests.contract.helpers import IMAGE_ID, assert_user_message

pytestmark = [pytest.mark.engine, pytest.mark.needs("commit"), pytest.mark.needs("run")]


def test_commit_a_container(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    base = harness.ensure_base()
    base_detail = backend.inspect(base)
    container = harness.ran_container(base, "echo committed > /committed.txt")
    ref = harness.ref("committed")
    image_id = backend.commit(
        container.name,
        ref,
        message="contract commit",
        author="imgtui tests <tests@example.com>",
        changes=['CMD ["cat", "/committed.txt"]', "ENV COMMITTED=yes"],
    )
    harness.track_image(image_id)
    assert IMAGE_ID.match(image_id)

    d = backend.inspect(ref)
    assert d.id == image_id
    assert d.repo_tags == (ref,)
    assert d.layers[: len(base_detail.layers)] == base_detail.layers
    assert len(d.layers) == len(base_detail.layers) + 1, "one new layer"
    assert d.config.cmd == ("cat", "/committed.txt")
    assert "COMMITTED=yes" in d.config.env
    assert d.comment == "contract commit"
    assert d.author == "imgtui tests <tests@example.com>"
    assert d.size > base_detail.size

    top = backend.history(ref)[0]
    assert top.comment == "contract commit"
    assert top.size > 0 and not top.empty_layer

    archive = tmp_path / "committed.tar"
    list(backend.save([ref], archive))
    assert read_file(archive, "/committed.txt") == b"committed\n"


def test_commit_without_a_name_gives_a_dangling_image(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("src",))
    container = harness.ran_container(img.ref, "touch /new-file")
    image_id = backend.commit(container.id)
    harness.track_image(image_id)
    d = backend.inspect(image_id)
    assert d.repo_tags == ()
    assert d.layers[:-1] == img.diff_ids
    assert d.config.cmd == ("sh", "-c", "touch /new-file")  # the container's command


def test_commit_a_running_container(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("src",))
    container = harness.running_container(img.ref)
    ref = harness.ref("from-running")
    image_id = backend.commit(container.id, ref, pause=True)
    assert backend.inspect(ref).id == image_id
    assert [c.id for c in backend.containers() if c.id == container.id], "still running"


def test_commit_unknown_container(harness: Harness, backend: Backend) -> None:
    with pytest.raises(ContainerNotFound) as e:
        backend.commit("imgtui-test-no-such-container", harness.ref("x"))
    assert_user_message(e.value, "imgtui-test-no-such-container")


def test_commit_an_invalid_change(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("src",))
    container = harness.container_using(img.ref)
    with pytest.raises(InvalidArgument) as e:
        backend.commit(container.id, harness.ref("x"), changes=["FROBNICATE yes"])
    assert_user_message(e.value, "FROBNICATE")
    assert not harness.exists(harness.ref("x"))


def test_commit_to_an_invalid_reference(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("src",))
    container = harness.container_using(img.ref)
    with pytest.raises(InvalidReference) as e:
        backend.commit(container.id, "Imgtui-Test/UPPER:x")
    assert_user_message(e.value)
