"""containers(): running ones by default, stopped ones too with all=True."""

from __future__ import annotations

import pytest

from imgtui.backends.base import Backend, ContainerSummary
from tests.contract.harness import Harness
from tests.contract.helpers import assert_aware

pytestmark = [pytest.mark.engine, pytest.mark.needs("run")]


def test_all_lists_a_stopped_container(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("c",))
    created = harness.container_using(img.ref)
    exited = harness.ran_container(img.ref, "true")

    listed = {c.id: c for c in backend.containers(all=True)}
    assert created.id in listed and exited.id in listed
    c = listed[created.id]
    assert isinstance(c, ContainerSummary)
    assert c.names == (created.name,)
    assert c.name == created.name
    assert c.image == img.ref
    assert c.image_id == img.id
    assert c.state == "created"
    assert not c.running
    assert_aware(c.created)
    e = listed[exited.id]
    assert e.state == "exited"
    assert not e.running
    assert "Exited (0)" in e.status

    running_only = {c.id for c in backend.containers()}
    assert created.id not in running_only
    assert exited.id not in running_only


def test_default_lists_running_containers(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=("r",))
    running = harness.running_container(img.ref)
    listed = {c.id: c for c in backend.containers()}
    assert running.id in listed
    c = listed[running.id]
    assert c.running
    assert c.state == "running"
    assert c.status.startswith("Up")
    assert "sleep" in c.command
    assert all(x.running for x in listed.values())
    assert running.id in {c.id for c in backend.containers(all=True)}
