"""Snapshot tests: the main screen, each details tab, each dialog and the disk usage view.

Every picture is the real app on the FakeBackend with the pinned clock, reached with the keys a user
would press; run_before waits until the app is idle (workers done, nothing scheduled) and the
picture stops changing, and stops text cursors blinking, before the screenshot. Update with
`pytest tests/tui/test_snapshots.py --snapshot-update`, only after looking at the report
(snapshot_report.html) or the SVGs in __snapshots__/.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from imgtui.app import ImgtuiApp
from imgtui.backends.base import ProgressEvent
from imgtui.screens.dialogs import PullDialog
from tests.tui.fake_backend import FROZEN, FakeBackend, _id, with_container

SIZE = (120, 36)
TIMEOUT = 10.0  # seconds any wait below may take before the test fails

SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[None]], Awaitable[None]]


class GatedPull(FakeBackend):
    """Holds a pull open after its first progress line, until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        events = list(super().pull(ref, platform=platform))
        yield from events[:3]  # status line, "Pulling fs layer", "Downloading 1MB/5MB"
        self.gate.wait(TIMEOUT)
        yield from events[3:]


class SnapApp(ImgtuiApp):
    """The app, opening the backend's gate on the way out so no worker thread holds up exit."""

    def on_unmount(self) -> None:
        # Textual calls the handlers of every class in the MRO: ImgtuiApp's runs too.
        gate = getattr(self.backend, "gate", None)
        if isinstance(gate, threading.Event):
            gate.set()


def make_app(backend: FakeBackend | None = None) -> SnapApp:
    return SnapApp(backend or FakeBackend(), clock=FROZEN)


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def settle(pilot: Pilot[None], *, busy: bool = False) -> None:
    """Until no worker runs (unless `busy`: one is meant to), nothing is scheduled and two
    screenshots in a row are the same."""
    app = pilot.app
    assert isinstance(app, ImgtuiApp)

    def idle() -> bool:
        return all(w.is_finished for w in app.workers) and app.is_idle

    last = ""
    for _ in range(int(TIMEOUT / 0.05)):
        await pilot.pause(0.05)
        if busy or idle():
            # A DataTable measures its new rows when its queue runs dry, a RichLog wraps once
            # it knows its width: a picture that no longer changes has both done.
            shot = app.export_screenshot()
            if shot == last:
                return
            last = shot
        else:
            last = ""
    raise AssertionError("the app did not settle")


async def still(pilot: Pilot[None], *, busy: bool = False) -> None:
    """Stop text cursors blinking, so the picture does not depend on when it is taken."""
    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
    await settle(pilot, busy=busy)


def keys(
    *steps: str | tuple[str, ...], then: RunBefore | None = None, busy: bool = False
) -> RunBefore:
    """run_before: settle; for each step press its key (or keys, for a tuple) and settle again."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        assert pilot.app.main_screen.table.row_count > 0  # type: ignore[attr-defined]
        for step in steps:
            await pilot.press(*((step,) if isinstance(step, str) else step))
            await settle(pilot)
        if then is not None:
            await then(pilot)
        await still(pilot, busy=busy)

    return run_before


def snap(snap_compare: SnapCompare, run_before: RunBefore, app: ImgtuiApp | None = None) -> None:
    assert snap_compare(app or make_app(), terminal_size=SIZE, run_before=run_before)


# --------------------------------------------------------------------------- main screen, tabs


def test_main_screen_history_tab(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys())


def test_dockerfile_tab(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("tab", "right"))


def test_inspect_tab(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("tab", "right", "right"))


def test_layers_tab(snap_compare: SnapCompare) -> None:
    """dive's view: figures, the layer list, the aggregated tree of the top layer."""
    snap(snap_compare, keys("l"))


def test_diff_screen(snap_compare: SnapCompare) -> None:
    """The newest image marked, the base under the cursor: D compares them."""
    snap(snap_compare, keys("space", "G", "D"))


def test_layers_tab_one_layer_by_size(snap_compare: SnapCompare) -> None:
    async def in_the_tree(pilot: Pilot[None]) -> None:
        pilot.app.query_one("#layers-tree").focus()
        for key in ("v", "o", "j"):
            await pilot.press(key)
            await settle(pilot)

    snap(snap_compare, keys("l", then=in_the_tree))


# --------------------------------------------------------------------------- dialogs


def test_tag_dialog(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("t", tuple("registry.example.com/team/worker:1.0")))


def test_remove_confirm_for_two_marked_rows(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("space", "space", "d"))


def test_pull_in_progress(snap_compare: SnapCompare) -> None:
    async def downloading(pilot: Pilot[None]) -> None:
        await pilot.press(*"demo:latest", "enter")
        dialog = pilot.app.screen
        assert isinstance(dialog, PullDialog)
        await until(
            pilot,
            lambda: "Downloading" in getattr(dialog.layer_states.get("aaa111"), "status", ""),
            "the layer's progress",
        )
        await pilot.pause(0.1)
        assert dialog.running

    snap(snap_compare, keys("p", then=downloading, busy=True), make_app(GatedPull()))


def test_push_dialog(snap_compare: SnapCompare) -> None:
    # Before pushing: once pushed, the dialog's content is one line short of its max height and
    # whether a scrollbar shows (and the hint wraps) depends on the order events arrived in.
    snap(snap_compare, keys("P"))


def test_build_with_log(snap_compare: SnapCompare) -> None:
    # The context input starts at the working directory: replace it, so the picture is the same
    # on every machine.
    steps = ("ctrl+u", *"/srv/app", "tab", "tab", *"built:latest")

    async def log_in_view(pilot: Pilot[None]) -> None:
        # At 36 lines the log is below the form: scroll down to it, as the mouse wheel would.
        pilot.app.screen.query_one("#dialog").scroll_end(animate=False)

    snap(snap_compare, keys("b", steps, "enter", then=log_in_view))


def test_commit_dialog(snap_compare: SnapCompare) -> None:
    backend = FakeBackend()
    with_container(backend, _id(2), running=True)
    with_container(backend, _id(4))
    snap(snap_compare, keys("c", "down", "enter", tuple("demo/worker:snapshot")), make_app(backend))


def test_cleanup_preview(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("x"))


def test_help_screen(snap_compare: SnapCompare) -> None:
    snap(snap_compare, keys("question_mark"))


# --------------------------------------------------------------------------- disk usage


def test_disk_usage_view(snap_compare: SnapCompare) -> None:
    backend = FakeBackend()
    with_container(backend, _id(2), running=True)
    snap(snap_compare, keys("u"), make_app(backend))
