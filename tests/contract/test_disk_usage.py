"""disk_usage(): per-image shared/unique bytes, container counts, consistent totals."""

from __future__ import annotations

import pytest

from imgtui.backends.base import Backend, DiskUsage, ImageUsage
from tests.contract.harness import Harness
from tests.contract.helpers import assert_aware

pytestmark = pytest.mark.engine


def usage_of(du: DiskUsage, image_id: str) -> ImageUsage:
    found = [i for i in du.images if i.id == image_id]
    assert len(found) == 1, f"{image_id} listed {len(found)} times in disk usage"
    return found[0]


def test_shared_and_unique_sizes(harness: Harness, backend: Backend) -> None:
    base_size = backend.inspect(harness.ensure_base()).size
    layered = harness.put("layered", tags=("layered",), extra_layer=True)
    configured = harness.put("configured", tags=("configured",))
    harness.container_using(layered.ref)

    du = backend.disk_usage()
    assert isinstance(du, DiskUsage)
    lu = usage_of(du, layered.id)
    cu = usage_of(du, configured.id)
    assert lu.size == backend.inspect(layered.id).size
    assert cu.size == backend.inspect(configured.id).size
    assert lu.repo_tags == (layered.ref,)
    assert_aware(lu.created)
    # Both images sit on the base layer, which other images use too.
    assert lu.shared_size >= base_size
    assert cu.shared_size >= base_size
    assert lu.shared_size <= lu.size
    # The random extra layer belongs to `layered` alone.
    assert lu.unique_size >= layered.extra_layer_bytes
    assert 0 <= cu.unique_size < cu.size
    assert lu.containers == 1
    assert cu.containers == 0


def test_totals_are_consistent(harness: Harness, backend: Backend) -> None:
    harness.put("layered", tags=("a",), extra_layer=True)
    harness.put("configured", tags=("b",))
    du = backend.disk_usage()
    sizes = [i.size for i in du.images]
    assert du.layers_size > 0
    assert du.layers_size <= sum(sizes)
    assert du.layers_size >= max(sizes)
    assert all(0 <= i.shared_size <= i.size for i in du.images)
    assert all(i.containers >= 0 for i in du.images)
    assert 0 <= du.images_reclaimable <= du.layers_size
    assert du.images_active == sum(1 for i in du.images if i.containers > 0)
    assert du.containers_size >= 0
    assert 0 <= du.containers_reclaimable <= du.containers_size
    assert du.build_cache_size >= 0
    assert 0 <= du.build_cache_reclaimable <= du.build_cache_size
    assert len({i.id for i in du.images}) == len(du.images), "one entry per image"


def test_layers_size_counts_each_layer_once(isolated: Harness) -> None:
    backend = isolated.backend
    a = isolated.put("layered", tags=("a",))
    b = isolated.put("layered", tags=("b",))  # same layers, another config
    du = backend.disk_usage()
    assert {i.id for i in du.images} == {a.id, b.id}
    size = backend.inspect(a.id).size
    assert du.layers_size == size
    assert usage_of(du, a.id).shared_size == size
    assert du.images_reclaimable == du.layers_size  # no container uses either


@pytest.mark.needs("run")
def test_containers_in_disk_usage(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("c",))
    stopped = harness.container_using(img.ref)
    running = harness.running_container(img.ref)
    du = backend.disk_usage()
    by_id = {c.id: c for c in du.containers}
    assert stopped.id in by_id and running.id in by_id
    assert by_id[stopped.id].name == stopped.name
    assert not by_id[stopped.id].running
    assert by_id[running.id].running
    assert by_id[stopped.id].size_rw >= 0
    assert usage_of(du, img.id).containers == 2
    assert du.containers_active >= 1
