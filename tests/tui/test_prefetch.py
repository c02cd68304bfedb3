"""The list asked for while Textual imports: on the first paint, asked once, errors kept."""

from __future__ import annotations

import argparse

import pytest

from imgtui import app as app_module
from imgtui.app import ImgtuiApp
from imgtui.backends.base import BackendUnavailable
from imgtui.prefetch import Prefetch
from imgtui.widgets.image_table import ImageTable
from tests.tui.fake_backend import FROZEN, FakeBackend
from tests.tui.waiting import settle

SIZE = (140, 36)


def _calls(backend: FakeBackend, what: str) -> int:
    return sum(1 for name, _ in backend.calls if name == what)


async def test_prefetched_list_is_on_the_first_screen_and_asked_for_once() -> None:
    backend = FakeBackend()
    prefetch = Prefetch(backend)
    prefetch.info()
    app = ImgtuiApp(backend, FROZEN, prefetch=prefetch)
    async with app.run_test(size=SIZE) as pilot:
        # Before any worker could have run: the rows came from the prefetch, at mount.
        table = app.query_one(ImageTable)
        assert table.row_count > 0
        await settle(app, pilot)
        assert _calls(backend, "images") == 1
        assert _calls(backend, "info") == 1
        assert "fake://test" in app.sub_title
        await pilot.press("r")  # a refresh asks the backend afresh, not the spent prefetch
        await settle(app, pilot)
        assert _calls(backend, "images") == 2
    backend.close()


async def test_prefetch_not_ready_falls_back_to_the_worker() -> None:
    backend = FakeBackend()
    gate_open = False

    class Slow(Prefetch):
        @property
        def images_ready(self) -> bool:  # the screen mounts before the list arrives
            return gate_open and super().images_ready

    prefetch = Slow(backend)
    app = ImgtuiApp(backend, FROZEN, prefetch=prefetch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.query_one(ImageTable).row_count > 0
        assert _calls(backend, "images") == 1  # the worker took the prefetched list
    backend.close()


def test_unreachable_backend_stops_before_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FakeBackend()
    backend.available = False
    started: list[ImgtuiApp] = []
    monkeypatch.setattr(ImgtuiApp, "run", lambda self: started.append(self))
    prefetch = Prefetch(backend)
    with pytest.raises(BackendUnavailable):
        app_module.run_app(backend, prefetch)
    assert started == []
    assert _calls(backend, "images") == 0  # no list from a backend that does not answer
    assert prefetch.take_images() is None
    backend.close()


def test_cli_prints_the_error_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgtui import cli

    backend = FakeBackend()
    backend.available = False
    monkeypatch.setattr(cli, "open_backend", lambda args: backend)
    assert isinstance(cli.build_parser().parse_args([]), argparse.Namespace)
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot connect to the Docker daemon at fake://")
    assert err.count("\n") == 1
