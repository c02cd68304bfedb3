"""prune_images, system_prune, prune_build_cache: what goes, what stays, bytes reclaimed.

Prunes act on the whole engine/store, so every test here runs on the `isolated` harness (for
Docker a private scratch dockerd wiped before each test): pruning there can never delete another
test's images or the session base image, and "nothing to prune" is deterministic.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from imgtui.backends.base import InvalidArgument, PruneReport
from tests.contract.harness import Harness
from tests.contract.helpers import assert_user_message, build

pytestmark = pytest.mark.engine

OLD = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def test_prune_with_nothing_to_prune(isolated: Harness) -> None:
    backend = isolated.backend
    kept = isolated.put("layered", tags=("kept",))
    report = backend.prune_images()
    assert isinstance(report, PruneReport)
    assert report.deleted_images == ()
    assert report.untagged == ()
    assert report.space_reclaimed == 0
    assert isolated.exists(kept.id)


def test_prune_removes_dangling_images_only(isolated: Harness) -> None:
    backend = isolated.backend
    dangling = isolated.put("layered", tags=(), extra_layer=True)
    tagged = isolated.put("layered", tags=("kept",), extra_layer=True)
    report = backend.prune_images()
    assert dangling.id in report.deleted_images
    assert tagged.id not in report.deleted_images
    assert report.space_reclaimed >= dangling.extra_layer_bytes
    assert not isolated.exists(dangling.id)
    assert isolated.exists(tagged.id)
    again = backend.prune_images()
    assert again.deleted_images == () and again.space_reclaimed == 0


@pytest.mark.needs("run")
def test_prune_all_spares_images_used_by_containers(isolated: Harness) -> None:
    backend = isolated.backend
    unused = isolated.put("layered", tags=("unused",), extra_layer=True)
    dangling = isolated.put("layered", tags=())
    stopped = isolated.put("layered", tags=("stopped",))
    running = isolated.put("layered", tags=("running",))
    isolated.container_using(stopped.ref)
    isolated.running_container(running.ref)

    report = backend.prune_images(all=True)
    assert unused.id in report.deleted_images
    assert unused.ref in report.untagged
    assert dangling.id in report.deleted_images
    assert stopped.id not in report.deleted_images
    assert running.id not in report.deleted_images
    assert report.space_reclaimed >= unused.extra_layer_bytes
    assert not isolated.exists(unused.id)
    assert isolated.exists(stopped.ref)
    assert isolated.exists(running.ref)


@pytest.mark.parametrize("until", ["2002-01-01T00:00:00Z", "87600h"], ids=["timestamp", "duration"])
def test_prune_until_only_removes_older_images(isolated: Harness, until: str) -> None:
    backend = isolated.backend
    old = isolated.put("layered", tags=("old",), created=OLD, extra_layer=True)
    recent = isolated.put("layered", tags=("recent",), created=datetime.now(timezone.utc))
    report = backend.prune_images(all=True, until=until)
    assert old.id in report.deleted_images
    assert recent.id not in report.deleted_images
    assert report.space_reclaimed >= old.extra_layer_bytes
    assert isolated.exists(recent.id)


def test_prune_dangling_until(isolated: Harness) -> None:
    backend = isolated.backend
    old = isolated.put("layered", tags=(), created=OLD)
    recent = isolated.put("layered", tags=(), created=datetime.now(timezone.utc))
    report = backend.prune_images(until="2002-01-01T00:00:00Z")
    assert old.id in report.deleted_images
    assert recent.id not in report.deleted_images
    assert isolated.exists(recent.id)


def test_prune_until_garbage_is_refused(isolated: Harness) -> None:
    kept = isolated.put("layered", tags=(), created=OLD)
    with pytest.raises(InvalidArgument) as e:
        isolated.backend.prune_images(until="not-a-time")
    assert_user_message(e.value, "not-a-time")
    assert isolated.exists(kept.id)


@pytest.mark.needs("run")
def test_system_prune(isolated: Harness) -> None:
    backend = isolated.backend
    used_by_stopped = isolated.put("layered", tags=("stopped",), extra_layer=True)
    used_by_running = isolated.put("layered", tags=("running",))
    unused = isolated.put("layered", tags=("unused",), extra_layer=True)
    dangling = isolated.put("layered", tags=(), extra_layer=True)
    stopped = isolated.container_using(used_by_stopped.ref)
    running = isolated.running_container(used_by_running.ref)
    volume = isolated.make_volume()

    report = backend.system_prune()
    assert stopped.id in report.deleted_containers
    assert running.id not in report.deleted_containers
    assert dangling.id in report.deleted_images
    assert unused.id not in report.deleted_images  # tagged images stay without all=True
    assert report.deleted_volumes == ()
    assert report.space_reclaimed >= dangling.extra_layer_bytes
    assert not isolated.container_exists(stopped.id)
    assert isolated.container_exists(running.id)
    assert isolated.exists(unused.ref)
    if volume is not None:
        assert isolated.volume_exists(volume)

    report = backend.system_prune(all=True, volumes=True)
    assert unused.id in report.deleted_images
    assert used_by_stopped.id in report.deleted_images  # its container went in the first prune
    assert used_by_running.id not in report.deleted_images
    assert report.space_reclaimed >= unused.extra_layer_bytes + used_by_stopped.extra_layer_bytes
    assert isolated.exists(used_by_running.ref)
    assert isolated.container_exists(running.id)
    if volume is not None:
        assert volume in report.deleted_volumes
        assert not isolated.volume_exists(volume)


@pytest.mark.needs("build")
def test_prune_build_cache(isolated: Harness, tmp_path: Path) -> None:
    backend = isolated.backend
    isolated.ensure_base()
    _, result = build(
        backend,
        tmp_path / "ctx",
        "FROM imgtui-test/busybox:latest\nRUN echo cached > /cached\n",
        tags=[isolated.ref("cached")],
    )
    report = backend.prune_build_cache()
    assert isinstance(report, PruneReport)
    before = backend.disk_usage().build_cache
    report = backend.prune_build_cache(all=True)
    assert set(report.deleted_build_cache) == {b.id for b in before if not b.in_use}
    assert report.space_reclaimed >= 0
    if not report.deleted_build_cache:
        assert report.space_reclaimed == 0
    after = backend.disk_usage()
    assert after.build_cache_reclaimable == 0
    assert report.deleted_images == ()
    assert isolated.exists(result.image_id), "a build cache prune never removes images"
