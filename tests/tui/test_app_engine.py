"""The app on a real engine: it lists what the engine has and follows the cursor with details."""

from __future__ import annotations

import pyperclip
import pytest

from imgtui.app import ImgtuiApp
from imgtui.backends.docker_sdk import DockerBackend
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.file_tree import FileTree
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import ImageTable
from imgtui.widgets.layers_view import LayersView
from tests.conftest import BASE_REPO
from tests.tui.waiting import settle, until


@pytest.fixture
def backend(docker_host: str, base_image: str):
    b = DockerBackend(host=docker_host)
    yield b
    b.close()


async def test_lists_engine_images_and_shows_history(backend: DockerBackend, base_image: str):
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(ImageTable)
        expected_rows = sum(max(1, len(i.repo_tags)) for i in backend.images())
        assert table.row_count == expected_rows
        assert "docker" in app.sub_title and backend.endpoint.base_url in app.sub_title
        # Put the cursor on the base image and check its details arrive.
        ids = [row.image.id for row in table.rows]
        index = ids.index(base_image)
        table.move_cursor(row=index)
        await settle(app, pilot)
        history = app.query_one(HistoryView)
        assert history.row_count == len(backend.history(base_image))
        dockerfile = app.query_one(DockerfileView)
        assert "FROM" in dockerfile.text  # reconstructed text is shown
        assert "Reconstructed from history" in dockerfile.caption
        await pilot.press("r")
        await settle(app, pilot)
        assert table.row_count == expected_rows
        await pilot.press("q")


async def test_shared_size_and_containers_filled_from_system_df(
    backend: DockerBackend, base_image: str
) -> None:
    """The daemon's image list says -1 for both; the table fills them in from `system df`."""
    assert all(i.shared_size is None for i in backend.images())  # why the second load exists
    usage = {u.id: u for u in backend.disk_usage().images}
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        rows = app.query_one(ImageTable).rows
        assert rows and all(r.image.shared_size is not None for r in rows)
        for r in rows:
            if r.image.id in usage:
                assert r.image.shared_size == usage[r.image.id].shared_size
                assert r.image.containers == usage[r.image.id].containers
        assert "docker" in app.sub_title


async def test_unreachable_daemon_is_a_notification_not_a_crash(tmp_path):
    backend = DockerBackend(host=f"unix://{tmp_path}/none.sock")
    app = ImgtuiApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("cannot connect to the Docker daemon" in m for m in messages)
        assert app.query_one(ImageTable).row_count == 0
        assert app.offline and "unreachable — retrying" in app.sub_title


async def key_tour(app: ImgtuiApp, pilot, image_id: str, name: str, monkeypatch) -> None:
    """The list keys once on a real backend: filter, sort, mark, copy, escape."""
    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    table = app.query_one(ImageTable)
    await pilot.press("slash", *name, "enter")
    assert table.row_count >= 1 and all(name in f"{r.repository}:{r.tag}" for r in table.rows)
    index = next(n for n, r in enumerate(table.rows) if r.image.id == image_id)
    table.move_cursor(index)
    await settle(app, pilot)
    await pilot.press("y", "Y", "space")
    await settle(app, pilot)
    assert copied[0] == image_id and "/" in copied[1]  # the id, then a full reference
    assert [r.image.id for r in table.marked_rows] == [image_id]
    for _ in range(3):
        await pilot.press("s")
    assert table.sort_key == "created"
    await pilot.press("escape")
    assert table.filter_text == ""


async def layers_tour(app: ImgtuiApp, pilot, image_id: str, expect_path: str) -> None:
    """The Layers tab once on a real backend: the analysis arrives and its tree shows files."""
    table = app.query_one(ImageTable)
    table.move_cursor(row=next(n for n, r in enumerate(table.rows) if r.image.id == image_id))
    await settle(app, pilot)
    await pilot.press("l")
    view = app.query_one(LayersView)
    await until(pilot, lambda: view.analysis is not None, "the analysis", timeout=60)
    await settle(app, pilot)
    tree = view.query_one(FileTree)
    await until(pilot, lambda: bool(tree.lines), "the file tree")
    assert view.analysis.id == image_id
    direct = app.backend.analyze(image_id)
    assert (direct.efficiency, direct.wasted_bytes) == (
        view.analysis.efficiency,
        view.analysis.wasted_bytes,
    )
    assert len(view.analysis.layers) == len(direct.layers) >= 1
    tree.focus()
    await pilot.press("plus")
    assert expect_path in {line.node.path for line in tree.lines}
    assert "Efficiency" in str(view.query_one("#layers-summary").render())


async def test_layers_tab_on_the_engine(backend: DockerBackend, base_image: str) -> None:
    app = ImgtuiApp(backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await layers_tour(app, pilot, base_image, "/bin/busybox")


async def test_keys_on_the_engine(backend: DockerBackend, base_image: str, monkeypatch) -> None:
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await key_tour(app, pilot, base_image, BASE_REPO, monkeypatch)
