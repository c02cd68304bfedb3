"""original_dockerfile(): the real Dockerfile when the backend kept one, else None."""

from __future__ import annotations

import pytest

from imgtui.backends.base import Backend, ImageNotFound
from tests.contract.harness import Harness

pytestmark = pytest.mark.engine


def test_a_loaded_image_has_no_original(harness: Harness, backend: Backend) -> None:
    img = harness.put("configured", tags=("df",))
    assert backend.original_dockerfile(img.ref) is None
    assert backend.original_dockerfile(img.id) is None


def test_unknown_image(harness: Harness, backend: Backend) -> None:
    with pytest.raises(ImageNotFound):
        backend.original_dockerfile(harness.ref("missing"))
