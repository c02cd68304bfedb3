"""The main screen driven by Pilot on a FakeBackend: every key, the panes, live refresh, outages."""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

import pyperclip
import pytest
from textual.command import CommandPalette
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from imgtui.app import ImgtuiApp
from imgtui.backends.base import ChangeEvent, HistoryEntry, ImageSummary
from imgtui.screens.main import MainScreen
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import MARK, ImageTable
from imgtui.widgets.inspect_view import InspectView
from tests.tui.fake_backend import FROZEN, FakeBackend, FakeImage, _id, many_images
from tests.tui.waiting import settle, until

SIZE = (140, 36)
WORKER, API, WEB, DATA, DANGLING, TOOL, BASE = (_id(n) for n in (4, 3, 2, 5, 6, 7, 1))


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    b = FakeBackend()
    yield b
    b.close()


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What went to the system clipboard; nothing touches the real one."""
    texts: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", texts.append)
    return texts


def table(app: ImgtuiApp) -> ImageTable:
    return app.main_screen.query_one(ImageTable)


def refs(app: ImgtuiApp) -> list[str]:
    return [f"{r.repository}:{r.tag}" for r in table(app).rows]


def status(app: ImgtuiApp) -> str:
    return str(app.main_screen.query_one("#status-line", Static).content)


def notes(app: ImgtuiApp) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


def line(app: ImgtuiApp, y: int) -> str:
    """Line `y` of the table as drawn (0 is the header)."""
    return "".join(s.text for s in table(app).render_line(y))


async def goto(app: ImgtuiApp, pilot, image_id: str) -> None:
    index = next(n for n, r in enumerate(table(app).rows) if r.image.id == image_id)
    table(app).move_cursor(index)
    await settle(app, pilot)


# --------------------------------------------------------------------------- the list


async def test_one_row_per_tag_newest_first_and_totals_in_the_header(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert table(app).row_count == 8  # seven images, demo/base has two tags
        assert refs(app)[:2] == ["demo/worker:dev", "demo/api:2.0"]
        assert "<none>:<none>" in refs(app)
        assert app.sub_title.startswith("fake · fake://test · 1.0 · ")
        assert "7 images · 7 tags" in app.sub_title
        header = line(app, 0)
        for label in ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED", "CONTAINERS"):
            assert label in header
        first = line(app, 1)
        assert "demo/worker" in first and "040404040404" in first and "an hour ago" in first
        assert "sort: created ↓" in status(app) and "8 rows" in status(app)
        assert app.main_screen.focused is table(app)


async def test_details_follow_the_cursor(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        history = app.main_screen.query_one(HistoryView)
        assert history.row_count == 3  # demo/worker: ADD, CMD, RUN make
        await pilot.press("j", "j")  # demo/web
        await settle(app, pilot)
        assert table(app).current_image.id == WEB
        assert history.row_count == 6
        cells = [str(history.get_row_at(r)[1]).replace("\n", " ") for r in range(history.row_count)]
        # newest first, full commands, brackets kept as text (no markup)
        assert cells[0] == '/bin/sh -c #(nop) CMD ["nginx" "-g" "daemon off;"]'
        assert cells[-1].startswith("/bin/sh -c #(nop) ADD file:ea826e99c884")


async def test_history_wraps_long_commands(backend: FakeBackend) -> None:
    command = "RUN " + " && ".join(f"step{n} --with-a-long-flag" for n in range(20))
    backend._images[WORKER].history.insert(0, HistoryEntry("<missing>", FROZEN, command, 5))
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        history = app.main_screen.query_one(HistoryView)
        cell = history.get_row_at(0)[1]
        assert str(cell).replace("\n", " ") == command
        assert str(cell).count("\n") >= 5  # wrapped, not cut


async def test_dockerfile_tab_shows_the_reconstruction_and_says_so(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, WEB)
        app.main_screen.query_one("#details").active = "dockerfile-tab"
        await pilot.pause()
        view = app.main_screen.query_one(DockerfileView)
        assert "Reconstructed from history" in view.caption
        assert "ENV NGINX_VERSION=1.25.3" in view.text
        assert "EXPOSE 80" in view.text
        assert 'CMD ["nginx", "-g", "daemon off;"]' in view.text
        caption = app.main_screen.query_one("#dockerfile-caption", Static)
        assert "Reconstructed from history" in str(caption.content)


class OriginalKeeper(FakeBackend):
    """A backend with the optional original_dockerfile call (the store could offer it)."""

    def original_dockerfile(self, ref: str) -> str | None:
        return "FROM demo/base:1.0\nRUN make\n" if ref == WORKER else None


async def test_dockerfile_tab_prefers_the_original_when_the_backend_keeps_it() -> None:
    backend = OriginalKeeper()
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = app.main_screen.query_one(DockerfileView)
        assert view.original and view.text == "FROM demo/base:1.0\nRUN make\n"
        assert view.caption.startswith("The original Dockerfile")
        await goto(app, pilot, API)
        assert not view.original and "Reconstructed" in view.caption
    backend.close()


async def test_inspect_tab_is_readable(backend: FakeBackend) -> None:
    backend._images[WEB].config = replace(
        backend._images[WEB].config,
        working_dir="/srv",
        user="www",
        volumes=("/cache",),
        entrypoint=("/docker-entrypoint.sh",),
    )
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, WEB)
        app.main_screen.query_one("#details").active = "inspect-tab"
        await pilot.pause()
        text = app.main_screen.query_one(InspectView).plain
        for expected in (
            f"Id: {WEB}",
            "Tag: demo/web:1.2",
            "Platform: linux/amd64",
            'Entrypoint: ["/docker-entrypoint.sh"]',
            'Cmd: ["nginx", "-g", "daemon off;"]',
            "Working dir: /srv",
            "User: www",
            "NGINX_VERSION: 1.25.3",
            "maintainer: web-team",
            "  80/tcp",
            "  /cache",
            "1: sha256:base",
            "2: sha256:web",
        ):
            assert expected in text, expected


async def test_digests_show_in_inspect(backend: FakeBackend) -> None:
    digest = "sha256:" + "ab" * 32

    class Digested(FakeBackend):
        def inspect(self, ref: str):  # type: ignore[no-untyped-def]
            return replace(super().inspect(ref), repo_digests=(f"demo/worker@{digest}",))

    b = Digested()
    app = ImgtuiApp(b, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert f"Digest: demo/worker@{digest}" in app.main_screen.query_one(InspectView).plain
    b.close()


# --------------------------------------------------------------------------- filter and sort


async def test_slash_filters_as_you_type_and_escape_clears(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.main_screen.check_action("clear_filter", ()) is False  # no escape in footer
        await pilot.press("slash")
        assert isinstance(app.focused, Input) and app.focused.id == "filter"
        assert app.main_screen.check_action("clear_filter", ()) is True
        await pilot.press("w")
        assert set(refs(app)) == {"demo/worker:dev", "demo/web:1.2"}
        await pilot.press("e")
        assert refs(app) == ["demo/web:1.2"]
        assert "1 of 8 rows match 'we'" in status(app)
        await settle(app, pilot)
        assert app.main_screen.query_one(HistoryView).row_count == 6  # details follow
        # typing never triggers the screen's keys
        await pilot.press("s", "d", "q")
        assert app.is_running and table(app).sort_key == "created"
        assert table(app).row_count == 0
        assert "No image matches" in line(app, 1)
        await pilot.press("escape")
        assert table(app).row_count == 8
        assert app.focused is table(app)
        assert app.main_screen.query_one("#filter", Input).value == ""


async def test_filter_matches_ids_words_and_enter_keeps_it(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"0606")
        assert refs(app) == ["<none>:<none>"]
        await pilot.press(*["backspace"] * 4, *"base latest")
        assert refs(app) == ["demo/base:latest"]
        await pilot.press("enter")
        assert app.focused is table(app)
        assert refs(app) == ["demo/base:latest"]


async def test_s_cycles_name_created_size(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert table(app).sort_key == "created"
        await pilot.press("s")
        assert "sort: size ↓" in status(app)
        assert refs(app)[0] == "registry.example.com:5000/team/tool:v3"  # 12 MB
        assert "SIZE▼" in line(app, 0)
        await pilot.press("s")
        assert "sort: name ↑" in status(app)
        assert refs(app)[:3] == ["demo/api:2.0", "demo/base:1.0", "demo/base:latest"]
        assert refs(app)[-1] == "<none>:<none>"
        await pilot.press("s")
        assert "sort: created ↓" in status(app)
        assert refs(app)[0] == "demo/worker:dev"


async def test_sorting_keeps_the_cursor_on_its_row(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, DATA)
        await pilot.press("s")
        assert table(app).current_image.id == DATA
        assert table(app).cursor_row == 1  # 8.5 MB: second biggest


async def test_clicking_headers_sorts_and_clicking_rows_selects(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        t = table(app)
        await pilot.click(ImageTable, offset=(t.column_x("size") + 2, 0))
        assert (t.sort_key, t.sort_reversed) == ("size", True)
        await pilot.click(ImageTable, offset=(t.column_x("size") + 2, 0))
        assert (t.sort_key, t.sort_reversed) == ("size", False)
        assert "sort: size ↑" in status(app)
        await pilot.click(ImageTable, offset=(t.column_x("repository"), 0))
        assert t.sort_key == "name"
        await pilot.click(ImageTable, offset=(t.column_x("tag") + 1, 3))
        assert t.cursor_row == 2
        assert refs(app)[2] == "demo/base:latest"
        await settle(app, pilot)
        assert app.main_screen.query_one(HistoryView).row_count == 2


async def test_vim_keys_move_in_the_history_too(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        history = app.main_screen.query_one(HistoryView)
        history.focus()
        await pilot.press("j")
        assert history.cursor_row == 1
        await pilot.press("G")
        assert history.cursor_row == 2
        await pilot.press("k", "k")
        assert history.cursor_row == 0
        await pilot.press("G", "g")
        assert history.cursor_row == 0
        assert table(app).cursor_row == 0  # the list did not move


async def test_vim_keys_move_in_the_list(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        t = table(app)
        await pilot.press("j", "j", "j")
        assert t.cursor_row == 3
        await pilot.press("k")
        assert t.cursor_row == 2
        await pilot.press("G")
        assert t.cursor_row == 7
        await pilot.press("g")
        assert t.cursor_row == 0
        await pilot.press("down", "end", "up", "home")
        assert t.cursor_row == 0


# --------------------------------------------------------------------------- marks


async def test_space_marks_and_unmarks_rows(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        t = table(app)
        await pilot.press("space")
        assert t.cursor_row == 1  # marking steps down
        await pilot.press("space")
        assert [r.ref for r in t.marked_rows] == ["demo/worker:dev", "demo/api:2.0"]
        assert line(app, 1).lstrip().startswith(MARK)
        assert line(app, 2).lstrip().startswith(MARK)
        assert not line(app, 3).lstrip().startswith(MARK)
        assert "2 marked" in status(app)
        await pilot.press("k", "space")
        assert [r.ref for r in t.marked_rows] == ["demo/worker:dev"]
        assert "1 marked" in status(app)
        # marks survive filtering and reloads
        await pilot.press("slash", *"web", "enter", "r")
        await settle(app, pilot)
        assert [r.ref for r in t.marked_rows] == ["demo/worker:dev"]


# --------------------------------------------------------------------------- clipboard


async def test_y_copies_the_image_id(backend: FakeBackend, copied: list[str]) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert copied == [WORKER]
        assert any(f"Copied image id {WORKER}" in n for n in notes(app))


async def test_capital_y_copies_the_full_reference(backend: FakeBackend, copied: list[str]):
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("Y")
        await goto(app, pilot, DANGLING)
        await pilot.press("Y")
        await settle(app, pilot)
        assert copied == ["docker.io/demo/worker:dev", DANGLING]
        assert any("Copied reference docker.io/demo/worker:dev" in n for n in notes(app))


async def test_capital_y_copies_the_digest_when_there_is_one(copied: list[str]) -> None:
    digest = "sha256:" + "cd" * 32

    class Digested(FakeBackend):
        def images(self, **kw) -> list[ImageSummary]:  # type: ignore[no-untyped-def]
            return [
                replace(i, repo_digests=(f"demo/worker@{digest}",)) if i.id == WORKER else i
                for i in super().images(**kw)
            ]

    b = Digested()
    app = ImgtuiApp(b, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("Y")
        await settle(app, pilot)
        assert copied == [f"docker.io/demo/worker@{digest}"]
    b.close()


async def test_copy_falls_back_to_osc52(backend: FakeBackend, monkeypatch) -> None:
    def no_clipboard(text: str) -> None:
        raise pyperclip.PyperclipException("no copy/paste mechanism")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard == WORKER  # App.copy_to_clipboard wrote OSC 52
        assert any("OSC 52" in n and WORKER in n for n in notes(app))


# --------------------------------------------------------------------------- refresh, help, palette


async def test_r_refreshes(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        calls = sum(1 for c, _ in backend.calls if c == "images")
        backend.tag("demo/api:2.0", "demo/api:stable")
        await pilot.press("r")
        await settle(app, pilot)
        assert sum(1 for c, _ in backend.calls if c == "images") == calls + 1
        assert "demo/api:stable" in refs(app)
        assert "7 images · 8 tags" in app.sub_title


async def test_question_mark_shows_every_key(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        keys = [k for k, _ in app.screen.keys]  # type: ignore[attr-defined]
        for key in ("/", "s", "space", "r", "t", "d", "p", "P", "b", "c", "x", "u", "y", "Y", "?"):
            assert key in keys
        assert "ctrl+p" in keys and "q" in keys
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_footer_shows_the_bindings(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        bound = {b.key: b for _, b, enabled, _ in app.main_screen.active_bindings.values()}
        shown = {k for k, b in bound.items() if b.show}
        for key in ("slash", "s", "space", "t", "d", "p", "b", "x", "u", "y"):
            assert key in shown
        assert "q" in shown and "question_mark" in shown
        # The rest are bound but kept out of the footer so it fits 120 columns (help lists them).
        for key in ("r", "P", "c", "Y"):
            assert key in bound and key not in shown


async def test_palette_lists_the_actions_and_runs_them(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.main_screen)]
        for title in (
            "image: tag",
            "image: remove",
            "image: pull",
            "image: push",
            "image: build",
            "container: commit",
            "images: clean up",
            "view: disk usage",
            "image: copy id",
            "image: copy reference",
            "list: filter",
            "list: sort",
            "list: mark",
            "list: refresh",
            "view: help",
        ):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"list: sort")
        await until(pilot, lambda: app.screen.query("CommandList Option").results, "hits")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: table(app).sort_key == "size", "sort from the palette")
        assert app.screen is app.main_screen


async def test_q_quits(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
        assert not app.is_running


# --------------------------------------------------------------------------- live refresh


async def test_events_refresh_the_list_keeping_the_cursor(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, WEB)
        assert table(app).cursor_row == 2
        fresh = FakeImage(_id(42), ["demo/new:1"], FROZEN, [("new", 10)], [])
        backend._images[fresh.id] = fresh
        for action in ("pull", "tag", "pull", "pull", "tag"):  # one pull is a burst of events
            backend.emit(ChangeEvent("image", action, fresh.id, FROZEN))
        await until(pilot, lambda: app.events_seen == 5, "the events")
        await until(pilot, lambda: "demo/new:1" in refs(app), "the live reload")
        await settle(app, pilot)
        assert app.live_reloads == 1  # debounced into one reload
        assert refs(app)[0] == "demo/new:1"
        assert table(app).current_image.id == WEB  # same image, one row lower
        assert table(app).cursor_row == 3


async def test_a_removed_tag_moves_the_cursor_to_another_tag_of_its_image(backend: FakeBackend):
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("G")  # demo/base:latest
        assert table(app).current_row.ref == "demo/base:latest"
        backend.remove("demo/base:latest")
        backend.emit(ChangeEvent("image", "untag", BASE, FROZEN))
        await until(pilot, lambda: app.live_reloads == 1, "the live reload")
        await settle(app, pilot)
        assert table(app).current_row.ref == "demo/base:1.0"


async def test_a_daemon_that_goes_away_and_comes_back(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    app.RETRY_SECONDS = 0.2
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, API)
        backend.available = False
        await pilot.press("r")
        await until(pilot, lambda: bool(app.offline), "the outage to show")
        assert any("cannot connect to the Docker daemon" in n for n in notes(app))
        assert "fake unreachable — retrying" in status(app)
        assert app.main_screen.query_one("#status-line").has_class("-error")
        assert "unreachable — retrying" in app.sub_title
        assert table(app).row_count == 8  # what was listed stays listed
        await pilot.press("j")  # still responds
        assert table(app).cursor_row == 2
        await pilot.pause(0.5)  # a few failed retries; one notification only
        assert sum("unreachable" in n for n in notes(app)) == 1
        backend.available = True
        backend.tag("demo/api:2.0", "demo/api:back")
        await until(pilot, lambda: not app.offline, "the reconnection")
        await until(pilot, lambda: "demo/api:back" in refs(app), "the reload after it")
        await settle(app, pilot)
        assert "unreachable" not in status(app) and "unreachable" not in app.sub_title
        assert not app.main_screen.query_one("#status-line").has_class("-error")
        assert any("answers again" in n for n in notes(app))


async def test_a_daemon_down_from_the_start() -> None:
    backend = FakeBackend()
    backend.available = False
    app = ImgtuiApp(backend, clock=FROZEN)
    app.RETRY_SECONDS = 0.2
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.offline), "the outage")
        await pilot.pause(0.1)
        assert "fake unreachable — retrying" in line(app, 1)
        backend.available = True
        await until(pilot, lambda: table(app).row_count == 8, "the images")
        await settle(app, pilot)
        assert "fake · fake://test" in app.sub_title
    backend.close()


# --------------------------------------------------------------------------- action keys


class Recorder(ModalScreen[object]):
    """Stands in for a dialog: records how the main screen made it, answers with `result`."""

    made: ClassVar[list[Recorder]] = []
    result: ClassVar[object] = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.args = args
        self.kwargs = kwargs
        Recorder.made.append(self)

    def on_mount(self) -> None:
        self.dismiss(self.result)


@pytest.fixture
def fake_dialogs(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """imgtui.screens.dialogs and .disk_usage replaced by recorders, whatever their state."""
    made: list[Recorder] = []
    names = ("TagDialog", "RemoveDialog", "PullDialog", "PushDialog", "BuildDialog")
    names += ("CommitDialog", "CleanupDialog")
    dialogs = types.ModuleType("imgtui.screens.dialogs")
    for name in names:
        setattr(dialogs, name, type(name, (Recorder,), {}))
    disk = types.ModuleType("imgtui.screens.disk_usage")
    disk.DiskUsageScreen = type("DiskUsageScreen", (Recorder,), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "imgtui.screens.dialogs", dialogs)
    monkeypatch.setitem(sys.modules, "imgtui.screens.disk_usage", disk)
    monkeypatch.setattr(Recorder, "made", made)
    return types.SimpleNamespace(made=made)


async def test_action_keys_open_their_dialogs_with_the_right_arguments(
    backend: FakeBackend, fake_dialogs: types.SimpleNamespace
) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key in ("t", "d", "p", "P", "b", "c", "x", "u"):
            await pilot.press(key)
            await settle(app, pilot)
        made = {type(d).__name__: d for d in fake_dialogs.made}
        assert list(made) == [
            "TagDialog",
            "RemoveDialog",
            "PullDialog",
            "PushDialog",
            "BuildDialog",
            "CommitDialog",
            "CleanupDialog",
            "DiskUsageScreen",
        ]
        assert all(d.args[0] is backend for d in made.values())
        worker = table(app).current_image
        assert made["TagDialog"].args[1:] == (worker, "demo/worker:dev")
        assert made["RemoveDialog"].args[1:] == (["demo/worker:dev"],)
        assert made["PullDialog"].kwargs == {"initial": ""}
        assert made["PushDialog"].args[1:] == ("demo/worker:dev",)
        assert app.screen is app.main_screen


async def test_remove_takes_the_marked_rows_and_a_dangling_row_by_id(
    backend: FakeBackend, fake_dialogs: types.SimpleNamespace
) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await goto(app, pilot, DANGLING)
        await pilot.press("t")
        await settle(app, pilot)
        assert fake_dialogs.made[-1].args[1:] == (table(app).current_image, DANGLING)
        await pilot.press("space", "g", "space")
        await pilot.press("d")
        await settle(app, pilot)
        assert fake_dialogs.made[-1].args[1] == ["demo/worker:dev", DANGLING]
        assert table(app).marked_rows == []  # the removal consumed the marks


async def test_a_dialog_that_changed_something_reloads_the_list(
    backend: FakeBackend, fake_dialogs: types.SimpleNamespace, monkeypatch
) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        images = lambda: sum(1 for c, _ in backend.calls if c == "images")  # noqa: E731
        before = images()
        monkeypatch.setattr(Recorder, "result", None)  # cancelled: nothing to reload
        await pilot.press("b")
        await settle(app, pilot)
        assert images() == before
        monkeypatch.setattr(Recorder, "result", "demo/web:stable")  # a tag dialog's answer
        await pilot.press("t")
        await settle(app, pilot)
        assert images() == before + 1


async def test_action_keys_without_an_image_warn(fake_dialogs: types.SimpleNamespace) -> None:
    backend = FakeBackend()
    backend._images.clear()
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "No images yet" in line(app, 1)
        assert "0 images · 0 tags" in app.sub_title
        for key in ("t", "d", "P", "y", "Y", "space", "s", "j", "G"):
            await pilot.press(key)
        await settle(app, pilot)
        assert fake_dialogs.made == []
        assert sum("No image to" in n for n in notes(app)) == 5
        await pilot.press("p")  # pull needs no image
        await settle(app, pilot)
        assert [type(d).__name__ for d in fake_dialogs.made] == ["PullDialog"]
    backend.close()


async def test_missing_dialog_modules_only_warn(backend: FakeBackend, monkeypatch) -> None:
    """Each build of the app must survive without the dialogs (they ship separately)."""
    monkeypatch.setitem(sys.modules, "imgtui.screens.dialogs", None)  # import raises
    monkeypatch.setitem(sys.modules, "imgtui.screens.disk_usage", None)
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for key in ("t", "d", "p", "P", "b", "c", "x", "u", "question_mark"):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen is app.main_screen
        assert sum("not part of this build" in n for n in notes(app)) == 8
        assert any("Keys" in n for n in notes(app))


@pytest.mark.parametrize(
    ("key", "module", "name"),
    [
        ("t", "imgtui.screens.dialogs", "TagDialog"),
        ("d", "imgtui.screens.dialogs", "RemoveDialog"),
        ("p", "imgtui.screens.dialogs", "PullDialog"),
        ("P", "imgtui.screens.dialogs", "PushDialog"),
        ("b", "imgtui.screens.dialogs", "BuildDialog"),
        ("c", "imgtui.screens.dialogs", "CommitDialog"),
        ("x", "imgtui.screens.dialogs", "CleanupDialog"),
        ("u", "imgtui.screens.disk_usage", "DiskUsageScreen"),
        ("question_mark", "imgtui.screens.dialogs", "HelpScreen"),
    ],
)
async def test_action_keys_push_the_real_screens(
    backend: FakeBackend, key: str, module: str, name: str
) -> None:
    assert importlib.util.find_spec(module) is not None, f"{module} is missing"
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        assert type(app.screen).__name__ == name
        assert type(app.screen).__module__ == module
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.main_screen


# --------------------------------------------------------------------------- scale


async def test_ten_thousand_images_fill_and_filter_fast() -> None:
    backend = FakeBackend(many_images(10_000))
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, timeout=30)
        t = table(app)
        assert t.row_count == 10_000
        started = time.perf_counter()
        t.set_filter("app042")
        elapsed = time.perf_counter() - started
        assert t.row_count == 100
        assert elapsed < 0.05, f"filtering 10,000 rows took {elapsed * 1000:.1f} ms"
        await pilot.press("G")
        assert t.current_row is t.rows[-1]
        t.set_filter("")
        await pilot.press("G")
        assert t.cursor_row == 9_999
        assert "bulk/app099" in line(app, app.main_screen.query_one(ImageTable).size.height - 1)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_draws_in_dark_and_light_themes(backend: FakeBackend, theme: str) -> None:
    app = ImgtuiApp(backend, clock=FROZEN)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        await settle(app, pilot)
        for tab in ("history-tab", "dockerfile-tab", "inspect-tab"):
            app.main_screen.query_one("#details").active = tab
            await pilot.pause()
            svg = app.export_screenshot()
            assert "Traceback" not in svg and "demo/worker" in svg
        await pilot.press("space", "slash", "w")
        assert "Traceback" not in app.export_screenshot()


def test_main_screen_is_the_default_screen(backend: FakeBackend) -> None:
    app = ImgtuiApp(backend, clock=lambda: FROZEN + timedelta(days=1))
    assert isinstance(app.get_default_screen(), MainScreen)
    assert app.clock() == FROZEN + timedelta(days=1)
