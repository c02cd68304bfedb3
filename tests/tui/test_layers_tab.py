"""The Layers tab on a FakeBackend: lazy analysis, the layer list, tree keys, filters, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyperclip
import pytest
from textual.widgets import DataTable, Input, ProgressBar, Static, TabbedContent

from imgtui.app import ImgtuiApp
from imgtui.widgets.file_tree import FileTree
from imgtui.widgets.image_table import ImageTable
from imgtui.widgets.layers_view import LayersView
from tests.tui.fake_backend import FROZEN, FakeBackend, _id
from tests.tui.waiting import settle
from tests.tui.waiting import until as _until

SIZE = (160, 45)
WORKER, BASE = _id(4), _id(1)


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    b = FakeBackend()
    yield b
    b.close()


async def until(pilot, check) -> None:
    await _until(pilot, check, "the Layers tab to get there")


def analyses(backend: FakeBackend) -> list[object]:
    return [args[0] for name, args in backend.calls if name == "analyze"]


async def open_layers(app: ImgtuiApp, pilot) -> LayersView:
    await settle(app, pilot)
    await pilot.press("l")
    await settle(app, pilot)
    view = app.query_one(LayersView)
    await until(pilot, lambda: view.analysis is not None and view.query_one(FileTree).lines)
    return view


async def test_analysis_waits_for_the_tab_and_follows_the_cursor(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert analyses(backend) == []  # nothing read while the tab is closed
        assert not app.query_one(LayersView).built  # nor even mounted
        view = await open_layers(app, pilot)
        assert app.query_one("#details", TabbedContent).active == "layers-tab"
        current = app.query_one(ImageTable).current_row
        assert current is not None and analyses(backend) == [current.image.id]
        summary = str(view.query_one("#layers-summary", Static).render())
        assert "Efficiency" in summary and "wasted" in summary
        table = view.query_one("#layers-list", DataTable)
        assert table.row_count == len(view.analysis.layers)
        assert table.cursor_row == table.row_count - 1  # the top layer first
        # another image: analysed at once while the tab is open
        app.query_one(ImageTable).focus()
        await pilot.press("G")
        await settle(app, pilot)
        await until(pilot, lambda: len(analyses(backend)) == 2 and view.analysis is not None)
        assert view.analysis.id == app.query_one(ImageTable).current_row.image.id


async def test_layer_choice_view_and_change_filters(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_layers(app, pilot)
        tree = view.query_one(FileTree)
        paths = {line.node.path for line in tree.lines}
        assert "/bin/sh" in paths and "/etc/config" in paths  # aggregated: the base shows too
        tree.focus()
        await pilot.press("v")  # this layer only
        await settle(app, pilot)
        only = {line.node.path for line in tree.lines}
        assert "/bin/sh" not in only and "/etc/config" in only
        mode = str(view.query_one("#layers-mode", Static).render())
        assert "this layer only" in mode
        await pilot.press("v", "M")  # back to all layers; hide the modified
        await settle(app, pilot)
        changes = {line.node.change for line in tree.lines if not line.node.children}
        assert "modified" not in changes and "unchanged" in changes
        assert "A+R+U" in str(view.query_one("#layers-mode", Static).render())
        await pilot.press("A", "R", "U")  # nothing left: back to every change
        await settle(app, pilot)
        assert view.changes == {"added", "modified", "removed", "unchanged"}
        # the base layer in the layer list: everything there is "added"
        table = view.query_one("#layers-list", DataTable)
        table.focus()
        await pilot.press(*["up"] * table.cursor_row)
        await settle(app, pilot)
        await until(pilot, lambda: view.layer_index == 0 and tree.lines)
        assert {line.node.change for line in tree.lines} == {"added"}


async def test_tree_keys_sort_fold_find_and_copy(
    backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_layers(app, pilot)
        tree = view.query_one(FileTree)
        tree.focus()
        top = [line.node.name for line in tree.lines if line.depth == 0]
        assert top == sorted(top)
        await pilot.press("o")  # largest first
        await settle(app, pilot)
        sizes = [line.node.size for line in tree.lines if line.depth == 0]
        assert sizes == sorted(sizes, reverse=True)
        # fold the folder under the cursor, then open it again
        await pilot.press("g")
        folder = tree.current
        assert folder is not None and folder.children
        before = len(tree.lines)
        await pilot.press("enter")
        assert len(tree.lines) < before
        await pilot.press("right")
        assert len(tree.lines) == before
        await pilot.press("j", "left")  # on a child, left goes up to its folder
        assert tree.current is folder
        await pilot.press("minus")
        assert all(line.depth == 0 for line in tree.lines)
        await pilot.press("plus")
        assert len(tree.lines) == before
        # find a path: the filter keeps matches and their folders
        await pilot.press("f")
        assert isinstance(app.focused, Input) and app.focused.id == "layers-path"
        await pilot.press(*"config", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: tree.lines and len(tree.lines) == 2)
        assert [line.node.path for line in tree.lines] == ["/etc", "/etc/config"]
        assert app.focused is tree
        await pilot.press("j", "y")
        await settle(app, pilot)
        assert copied == ["/etc/config"]
        # the image list's filter was not touched by the path filter
        assert app.query_one(ImageTable).filter_text == ""


async def test_progress_shows_while_layers_are_read(backend: FakeBackend) -> None:
    backend.analysis_gate = threading.Event()
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        view = app.query_one(LayersView)
        await until(pilot, lambda: view.built and view.query_one(ProgressBar).display)
        await until(
            pilot, lambda: "Reading layer" in str(view.query_one("#layers-summary").render())
        )
        backend.analysis_gate.set()
        await until(pilot, lambda: view.analysis is not None)
        assert not view.query_one(ProgressBar).display


async def test_failed_analysis_says_why(backend: FakeBackend) -> None:
    backend.analysis_error = "layer sha256:ab is missing from the store (run imgtui fsck)"
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        view = app.query_one(LayersView)
        await until(pilot, lambda: "failed" in str(view.query_one("#layers-summary").render()))
        assert any("is missing from the store" in n.message for n in app._notifications)
        assert view.analysis is None


async def test_tab_keys_cycle_the_details(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        tabs = app.query_one("#details", TabbedContent)
        seen = [tabs.active]
        for _ in range(4):
            await pilot.press("right_square_bracket")
            seen.append(tabs.active)
        assert seen == ["history-tab", "dockerfile-tab", "inspect-tab", "layers-tab", "history-tab"]
        await pilot.press("left_square_bracket")
        assert tabs.active == "layers-tab"
        await settle(app, pilot)


async def test_zoom_gives_the_details_the_whole_screen(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_layers(app, pilot)
        narrow = view.size.width
        await pilot.press("z")
        await settle(app, pilot)
        assert app.screen.maximized is app.query_one("#details")
        assert view.size.width > narrow * 2
        await pilot.press("z")
        await settle(app, pilot)
        assert app.screen.maximized is None and view.size.width == narrow


async def test_diff_two_images(backend: FakeBackend) -> None:
    from imgtui.screens.diff import DiffScreen

    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("D")  # nothing marked: says how
        assert any("Mark one image" in n.message for n in app._notifications)
        table = app.query_one(ImageTable)
        await pilot.press("space")  # the newest image (demo/worker), then the base
        rows = table.rows
        table.move_cursor(row=next(n for n, r in enumerate(rows) if r.image.id == BASE))
        await pilot.press("D")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await until(pilot, lambda: screen.result is not None)
        result = screen.result
        assert (result.image1, result.image2) == ("demo/base:1.0", "demo/worker:dev")
        files = {f.path: f.change for f in result.files}
        assert files["/etc/config"] == "changed"
        assert any(c == "added" for c in files.values())
        summary = str(screen.query_one("#diff-summary", Static).render())
        assert "demo/base:1.0 → demo/worker:dev" in summary and "changed files" in summary
        grid = screen.query_one("#diff-files", DataTable)
        assert grid.row_count == len(result.files)
        await pilot.press("slash", *"config")
        await settle(app, pilot)
        assert grid.row_count == 1
        await pilot.press("escape")  # out of the filter box: the screen's escape closes
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, DiffScreen)


async def test_diff_failure_is_one_line(backend: FakeBackend) -> None:
    from imgtui.screens.diff import DiffScreen

    backend.analysis_error = "layer sha256:ab is missing from the store (run imgtui fsck)"
    app = ImgtuiApp(backend, FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(DiffScreen(backend, "demo/base:1.0", "demo/web:1.2"))
        await settle(app, pilot)
        summary = app.screen.query_one("#diff-summary", Static)
        await until(pilot, lambda: "Cannot compare" in str(summary.render()))
        assert "is missing from the store" in str(summary.render())
