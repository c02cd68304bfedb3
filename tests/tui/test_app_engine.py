"""The app on a real engine: it lists what the engine has and follows the cursor with details."""

from __future__ import annotations

import pytest

from imgtui.app import ImgtuiApp
from imgtui.backends.docker_sdk import DockerBackend
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import ImageTable


@pytest.fixture
def backend(docker_host: str, base_image: str):
    b = DockerBackend(host=docker_host)
    yield b
    b.close()


async def _settle(app: ImgtuiApp, pilot) -> None:
    """Wait until no worker runs; exclusive workers cancel each other, so don't await them."""
    for _ in range(200):
        await pilot.pause(0.05)
        if all(w.is_finished for w in app.workers):
            await pilot.pause()
            if all(w.is_finished for w in app.workers):
                return
    raise AssertionError("workers did not finish")


async def test_lists_engine_images_and_shows_history(backend: DockerBackend, base_image: str):
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(app, pilot)
        table = app.query_one(ImageTable)
        expected_rows = sum(max(1, len(i.repo_tags)) for i in backend.images())
        assert table.row_count == expected_rows
        assert "docker" in app.sub_title and backend.endpoint.base_url in app.sub_title
        # Put the cursor on the base image and check its details arrive.
        keys = [k.value for k in table.rows]
        index = next(i for i, k in enumerate(keys) if k.startswith(base_image))
        table.move_cursor(row=index)
        await _settle(app, pilot)
        history = app.query_one(HistoryView)
        assert history.row_count == len(backend.history(base_image))
        dockerfile = str(app.query_one(DockerfileView).render())
        assert dockerfile  # reconstructed text is shown
        await pilot.press("r")
        await _settle(app, pilot)
        assert table.row_count == expected_rows
        await pilot.press("q")


async def test_unreachable_daemon_is_a_notification_not_a_crash(tmp_path):
    backend = DockerBackend(host=f"unix://{tmp_path}/none.sock")
    app = ImgtuiApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("cannot connect to the Docker daemon" in m for m in messages)
        assert app.query_one(ImageTable).row_count == 0
