"""The app on the built-in store with the demo images: every image's details render."""

from __future__ import annotations

from pathlib import Path

from imgtui.app import ImgtuiApp
from imgtui.backends.builtin import BuiltinBackend
from imgtui.demo import make_demo
from imgtui.store.layout import Store
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import ImageTable
from tests.tui.test_app_engine import key_tour, layers_tour
from tests.tui.waiting import settle


async def test_every_demo_image_shows_its_history(tmp_path: Path) -> None:
    make_demo(Store.open(tmp_path / "store"))
    backend = BuiltinBackend(tmp_path / "store")
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(ImageTable)
        assert table.row_count == 7  # six names and one dangling image
        assert app.sub_title.startswith("builtin · ")
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await settle(app, pilot)
            image = table.current_image
            assert image is not None
            # history text holds brackets (SHELL ["/bin/sh"…]) that must not be read as markup
            assert app.query_one(HistoryView).row_count == len(backend.history(image.id))
    backend.close()


async def test_keys_on_the_store(tmp_path: Path, monkeypatch) -> None:
    make_demo(Store.open(tmp_path / "store"))
    backend = BuiltinBackend(tmp_path / "store")
    web = next(i for i in backend.images() if "demo/web:1.2" in i.repo_tags)
    app = ImgtuiApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await key_tour(app, pilot, web.id, "demo/web", monkeypatch)
    backend.close()


async def test_layers_tab_on_the_store(tmp_path: Path) -> None:
    make_demo(Store.open(tmp_path / "store"))
    backend = BuiltinBackend(tmp_path / "store")
    worker = next(i for i in backend.images() if "demo/worker:dev" in i.repo_tags)
    app = ImgtuiApp(backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await layers_tour(app, pilot, worker.id, "/app/worker/tasks.py")
    backend.close()
