"""history(): newest first, one row per config history entry, sizes that add up."""

from __future__ import annotations

import pytest

from imgtui.backends.base import Backend, HistoryEntry, ImageNotFound
from tests.contract.harness import Harness
from tests.contract.helpers import assert_aware, assert_user_message

pytestmark = pytest.mark.engine


def test_history_of_a_layered_image(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    entries = backend.history(img.ref)
    assert all(isinstance(e, HistoryEntry) for e in entries)
    config_history = list(reversed(img.config["history"]))
    assert [e.created_by for e in entries] == [h.get("created_by", "") for h in config_history]
    assert "ENV GREETING=hi" in entries[0].created_by
    assert "dd if=/dev/zero of=/blob" in entries[1].created_by
    assert "echo hello > /hello.txt" in entries[2].created_by
    assert entries[-1].comment == "Imported from -"

    assert sum(e.size for e in entries) == backend.inspect(img.ref).size
    assert entries[0].size == 0 and entries[0].empty_layer
    assert entries[1].size >= 64 * 1024 and not entries[1].empty_layer
    assert entries[2].size > 0 and not entries[2].empty_layer
    assert entries[-1].size > 0 and not entries[-1].empty_layer

    created = [assert_aware(e.created) for e in entries]
    assert created == sorted(created, reverse=True), "newest first"
    assert entries[0].id == img.id
    assert entries[0].tags == (img.ref,)


def test_empty_layers_match_the_image_config(harness: Harness, backend: Backend) -> None:
    img = harness.put("configured")
    entries = backend.history(img.ref)
    config_history = list(reversed(img.config["history"]))
    assert len(entries) == len(config_history)
    got = [(e.created_by, e.empty_layer) for e in entries]
    want = [(h.get("created_by", ""), bool(h.get("empty_layer"))) for h in config_history]
    assert got == want
    # Rows that are not empty layers map one-to-one onto the image's layers.
    assert sum(1 for e in entries if not e.empty_layer) == len(backend.inspect(img.ref).layers)
    assert all(e.size == 0 for e in entries if e.empty_layer)


def test_history_by_id_equals_by_name(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    assert backend.history(img.id) == backend.history(img.ref)
    short = img.id.removeprefix("sha256:")[:12]
    assert backend.history(short) == backend.history(img.ref)


def test_history_of_an_image_with_an_extra_layer(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", extra_layer=True)
    entries = backend.history(img.ref)
    assert entries[0].created_by.startswith("imgtui-test: unique layer")
    assert entries[0].size >= img.extra_layer_bytes
    assert sum(e.size for e in entries) == backend.inspect(img.ref).size


def test_history_of_unknown_image(harness: Harness, backend: Backend) -> None:
    missing = harness.ref("missing")
    with pytest.raises(ImageNotFound) as e:
        backend.history(missing)
    assert_user_message(e.value, missing)
