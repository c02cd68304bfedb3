"""The main screen: the image table beside History, Dockerfile and Inspect of the current image."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from imgtui import commands, reference
from imgtui.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ImageNotFound,
    ImageSummary,
)
from imgtui.messages import Copied, DetailsLoaded, ImagesLoaded
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.footer import Footer
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import SORT_LABELS, ImageTable, Row, build_rows, totals_text
from imgtui.widgets.inspect_view import InspectView
from imgtui.widgets.layers_view import LayersView

if TYPE_CHECKING:
    from imgtui.app import ImgtuiApp
    from imgtui.prefetch import Prefetch

DIALOGS = "imgtui.screens.dialogs"
DISK_USAGE = "imgtui.screens.disk_usage"
REGISTRY = "imgtui.screens.registry"
DIFF = "imgtui.screens.diff"


def original_dockerfile(backend: Backend, image_id: str) -> str | None:
    """The Dockerfile an image was built from, for backends that keep it; else None.

    Test doubles written before the call existed may lack it: they get a reconstruction.
    """
    fetch = getattr(backend, "original_dockerfile", None)
    return fetch(image_id) if callable(fetch) else None


def digest_reference(row: Row) -> str | None:
    """The row's repository pinned by digest ("repo@sha256:…"), when the image has one."""
    digests = row.image.repo_digests
    if not digests:
        return None
    mine = [d for d in digests if d.partition("@")[0] == row.repository]
    return (mine or list(digests))[0]


def full_reference(text: str) -> str:
    """docker.io/library/… form when `text` parses; as given otherwise."""
    try:
        return reference.normalize(text)
    except BackendError:
        return text


def _screen_class(module: str, name: str) -> Any:
    """A screen class of a module imported on first use, or None when it is not there."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise  # the module is there but broken: that is a bug to see, not to hide
        return None


class MainScreen(Screen[None]):
    """Does the calling: every backend call runs in a thread worker and comes back as a message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *commands.bindings(),
        Binding("escape", "clear_filter", "Clear"),
    ]
    DETAILS_DELAY = 0.08  # seconds: holding j must not start a history call per row

    def __init__(
        self,
        backend: Backend,
        clock: Callable[[], datetime],
        *,
        prefetch: Prefetch | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.prefetch = prefetch
        self.clock = clock
        self.images: Sequence[ImageSummary] = ()
        self.totals = ""
        self._details_for: str | None = None  # the image whose details are shown or coming
        self._details_timer: Timer | None = None
        self._usage_for: Sequence[ImageSummary] | None = None  # the list whose usage is loading

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="list-pane"):
                yield Input(placeholder="/ to filter by name, tag or id", id="filter")
                yield ImageTable(id="image-table")
            with TabbedContent(id="details"):
                with TabPane("History", id="history-tab"):
                    yield HistoryView(id="history-view")
                with TabPane("Dockerfile", id="dockerfile-tab"):
                    yield DockerfileView(id="dockerfile-view")
                with TabPane("Inspect", id="inspect-tab"):
                    yield InspectView(id="inspect-view")
                with TabPane("Layers", id="layers-tab"):
                    yield LayersView(id="layers-view")
        yield Static("", id="status-line")
        yield Footer(compact=True)

    @property
    def table(self) -> ImageTable:
        return self.query_one(ImageTable)

    @property
    def imgtui(self) -> ImgtuiApp:
        return cast("ImgtuiApp", self.app)

    def on_mount(self) -> None:
        self.table.focus()
        self.show_status()
        if self.prefetch is not None and self.prefetch.images_ready:
            try:
                images = self.prefetch.take_images()
            except BackendError:
                images = None  # the worker asks again and reports what goes wrong
            if images is not None:  # ready before the first paint: paint once, full
                self.show_images(ImagesLoaded(images, build_rows(images)))
                return
        self.load_images()

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        """Reload the list and the details of the highlighted image."""
        self._details_for = None
        self.load_images()

    @work(thread=True, exclusive=True, group="images", exit_on_error=False)
    def load_images(self) -> None:
        images = self.prefetch.take_images() if self.prefetch is not None else None
        if images is None:
            images = self.backend.images()
        rows = build_rows(images)
        if not get_current_worker().is_cancelled:  # a newer load has started: drop this one
            self.post_message(ImagesLoaded(images, rows))

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def load_details(self, image_id: str) -> None:
        try:
            history = self.backend.history(image_id)
            detail = self.backend.inspect(image_id)
        except ImageNotFound:
            return  # removed since the list loaded; the next reload drops its row
        from imgtui.analysis import dockerfile  # in the worker: not on the first screen's path

        original = original_dockerfile(self.backend, image_id)
        text = original if original is not None else dockerfile.reconstruct(history, detail.config)
        if not get_current_worker().is_cancelled:
            self.post_message(
                DetailsLoaded(image_id, history, detail, text, original=original is not None)
            )

    @on(ImagesLoaded)
    def show_images(self, event: ImagesLoaded) -> None:
        if event.usage_of is not None and event.usage_of is not self._usage_for:
            return  # a newer list came while the usage loaded; its own usage load is coming
        self.images = event.images
        self.totals = totals_text(event.images)
        self.table.show(event.rows, self.clock())
        self.imgtui.refresh_header()
        if self.imgtui.offline:
            self.imgtui.probe_backend()  # it answered: confirm now rather than at the next retry
        if event.usage_of is None and any(
            i.shared_size is None or i.containers is None for i in event.images
        ):
            self._usage_for = event.images
            # After the paint: system df parses every image in a thread, which would hold the
            # GIL while the first screen renders.
            self.call_after_refresh(self.load_usage, event.images)

    @work(thread=True, exclusive=True, group="usage", exit_on_error=False)
    def load_usage(self, images: Sequence[ImageSummary]) -> None:
        """SHARED SIZE and CONTAINERS, which the daemon's image list leaves out (-1).

        `docker images` shows them only in `system df -v`, which walks every layer and container:
        too slow to hold the list back, so the table shows first and this fills the columns in.
        """
        usage = {u.id: u for u in self.backend.disk_usage().images}
        filled = []
        for image in images:
            u = usage.get(image.id)
            filled.append(
                replace(
                    image,
                    shared_size=u.shared_size if u is not None else image.shared_size or 0,
                    containers=u.containers if u is not None else image.containers or 0,
                )
            )
        if not get_current_worker().is_cancelled:
            self.post_message(ImagesLoaded(filled, build_rows(filled), usage_of=images))

    @on(ImageTable.Highlighted)
    def follow_cursor(self, event: ImageTable.Highlighted) -> None:
        image_id = event.row.image.id
        if image_id == self._details_for:
            return  # another tag of the image already shown
        self._details_for = image_id
        if self._details_timer is not None:
            self._details_timer.stop()
        self._details_timer = self.set_timer(self.DETAILS_DELAY, self._load_chosen_details)

    @on(TabbedContent.TabActivated, "#details")
    async def details_tab(self, event: TabbedContent.TabActivated) -> None:
        await self.query_one(LayersView).activate(event.pane.id == "layers-tab")

    def _load_chosen_details(self) -> None:
        self._details_timer = None
        if self._details_for is not None:
            self.load_details(self._details_for)
            self.query_one(LayersView).show_image(self._details_for)

    @property
    def details_pending(self) -> bool:
        """A details load is scheduled but not started (the cursor is still moving)."""
        return self._details_timer is not None

    @on(DetailsLoaded)
    def show_details(self, event: DetailsLoaded) -> None:
        if event.image_id != self._details_for:
            return  # the cursor moved on while this loaded
        self.query_one(HistoryView).show(event.history)
        self.query_one(DockerfileView).show(event.dockerfile, original=event.original)
        self.query_one(InspectView).show(event.detail, self.clock())

    def clear_details(self) -> None:
        self._details_for = None
        if self._details_timer is not None:
            self._details_timer.stop()
            self._details_timer = None
        self.query_one(HistoryView).show(())
        self.query_one(DockerfileView).show("")
        self.query_one(InspectView).show(None, self.clock())
        self.query_one(LayersView).show_image(None)

    @on(ImageTable.ViewChanged)
    def view_changed(self) -> None:
        if self.table.current_row is None and self._details_for is not None:
            self.clear_details()
        self.show_status()

    def show_status(self) -> None:
        """One line: sort, filter, marks, and whether the backend answers."""
        try:
            table = self.table
        except NoMatches:
            return  # not composed yet; on_mount draws it
        arrow = "↓" if table.sort_reversed else "↑"
        text = Text(f" sort: {SORT_LABELS[table.sort_key]} {arrow}")
        if table.filter_text:
            text.append(f" · {table.row_count:,} of {table.total_count:,} rows match ")
            text.append(repr(table.filter_text))
        else:
            text.append(f" · {table.total_count:,} rows")
        marked = table.marked_count
        if marked:
            text.append(f" · {marked} marked", style="bold")
        offline = self.imgtui.offline
        if offline:
            text.append(f" · ⚠ {self.backend.name} unreachable — retrying", style="bold")
        status = self.query_one("#status-line", Static)
        status.update(text)
        status.set_class(bool(offline), "-error")
        if offline and not table.loaded:
            table.set_placeholder(f"{self.backend.name} unreachable — retrying…")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, BackendUnavailable):
            self.imgtui.backend_lost(error)
        elif isinstance(error, BackendError):
            self.notify(str(error), severity="error", timeout=8)
        else:
            self.notify(f"{type(error).__name__}: {error}", title="Unexpected", severity="error")

    # ------------------------------------------------------------------ list actions

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape shows in the footer only while there is a filter to clear."""
        if action == "clear_filter":
            try:
                box = self.query_one("#filter", Input)
            except NoMatches:
                return False
            return bool(box.value) or box.has_focus
        return True

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_descendant_blur(self) -> None:
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.table.set_filter("")
        self.table.focus()

    @on(Input.Changed, "#filter")
    def filter_rows(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.refresh_bindings()

    @on(Input.Submitted, "#filter")
    def keep_filter(self) -> None:
        self.table.focus()

    def action_cycle_sort(self) -> None:
        self.table.cycle_sort()

    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()

    def action_refresh(self) -> None:
        self.reload()

    def action_help(self) -> None:
        keys = [(c.shown_key, c.help) for c in commands.MAIN_COMMANDS]
        keys += list(commands.OTHER_KEYS)
        help_screen = _screen_class(DIALOGS, "HelpScreen")
        if help_screen is None:  # the dialogs are not in this build: the keys as a toast
            self.notify("\n".join(f"{k}  {what}" for k, what in keys), title="Keys", timeout=20)
        else:
            self.app.push_screen(help_screen(keys))

    # ------------------------------------------------------------------ clipboard

    def action_copy_id(self) -> None:
        row = self._current("copy")
        if row is not None:
            self.copy_text("image id", row.image.id)

    def action_copy_ref(self) -> None:
        row = self._current("copy")
        if row is None:
            return
        pinned = digest_reference(row)
        if pinned is not None:
            self.copy_text("digest reference", full_reference(pinned))
        elif row.ref:
            self.copy_text("reference", full_reference(row.ref))
        else:
            self.copy_text("image id", row.image.id)  # dangling: the id is its only name

    @work(thread=True, group="clipboard", exit_on_error=False)
    def copy_text(self, what: str, text: str) -> None:
        from imgtui import clipboard  # pyperclip and ctypes: only once something is copied

        if clipboard.to_system(text):
            via = "clipboard"
        else:
            via = self.app.call_from_thread(clipboard.to_terminal, self.app, text)
        self.post_message(Copied(what, text, via))

    @on(Copied)
    def say_copied(self, event: Copied) -> None:
        how = "" if event.via == "clipboard" else " (through the terminal: OSC 52)"
        self.notify(f"Copied {event.what} {event.text}{how}", timeout=4)

    # ------------------------------------------------------------------ dialogs

    def _current(self, verb: str) -> Row | None:
        row = self.table.current_row
        if row is None:
            self.notify(f"No image to {verb}", severity="warning")
        return row

    def _open(
        self,
        module: str,
        name: str,
        *args: Any,
        after: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """Push a dialog of the dialogs module; reload the list when it reports a change."""
        screen_class = _screen_class(module, name)
        if screen_class is None:
            self.notify(f"{name} is not part of this build yet", severity="warning")
            return

        def changed(result: object) -> None:
            if result:
                if after is not None:
                    after()
                self.reload()

        self.app.push_screen(screen_class(self.backend, *args, **kwargs), callback=changed)

    def action_tag(self) -> None:
        row = self._current("tag")
        if row is not None:
            self._open(DIALOGS, "TagDialog", row.image, row.target)

    def action_remove(self) -> None:
        marked = self.table.marked_rows
        rows = marked or [r for r in (self._current("remove"),) if r is not None]
        if rows:
            targets = list(dict.fromkeys(r.target for r in rows))
            self._open(DIALOGS, "RemoveDialog", targets, after=self.table.clear_marks)

    def action_pull(self) -> None:
        self._open(DIALOGS, "PullDialog", initial="")

    def action_push(self) -> None:
        row = self._current("push")
        if row is not None:
            self._open(DIALOGS, "PushDialog", row.ref)

    def action_build(self) -> None:
        self._open(DIALOGS, "BuildDialog")

    def action_commit(self) -> None:
        self._open(DIALOGS, "CommitDialog")

    def action_cleanup(self) -> None:
        self._open(DIALOGS, "CleanupDialog")

    DETAIL_TABS = ("history-tab", "dockerfile-tab", "inspect-tab", "layers-tab")

    def action_show_layers(self) -> None:
        self.query_one("#details", TabbedContent).active = "layers-tab"

    def action_diff(self) -> None:
        """Two marked rows, or one marked row and the cursor's: older image first."""
        rows = list(self.table.marked_rows)
        current = self.table.current_row
        if len(rows) == 1 and current is not None and current.image.id != rows[0].image.id:
            rows.append(current)
        images = list({r.image.id: r for r in rows}.values())
        if len(images) != 2:
            self.notify(
                "Mark one image with space, move to another, then press D (or mark two)",
                severity="warning",
            )
            return
        images.sort(key=lambda r: r.image.created)
        first, second = (r.ref or r.image.id for r in images)
        self._open(DIFF, "DiffScreen", first, second)

    def action_registry(self) -> None:
        """Browse the registry of the highlighted image's name (docker.io is never assumed)."""
        row = self.table.current_row
        host = ""
        if row is not None and row.ref:
            try:
                domain = reference.parse(row.repository).domain
            except BackendError:
                domain = ""
            host = domain if domain != reference.DEFAULT_DOMAIN else ""
        self._open(REGISTRY, "RegistryScreen", list(self.images), host)

    def action_zoom(self) -> None:
        """The details pane alone on the screen (a deep file tree wants the width), or back."""
        if self.maximized is not None:
            self.minimize()
        else:
            details = self.query_one("#details")
            details.ALLOW_MAXIMIZE = True  # a container: Textual maximizes focusable widgets only
            self.maximize(details, container=False)
            # Focus must move inside, or it lands on the hidden filter box, which takes keys.
            inside = [w for w in details.query("*") if w.focusable]
            if inside and (self.focused is None or self.focused not in inside):
                inside[-1].focus()  # the active pane's last part: its list or tree

    def action_prev_tab(self) -> None:
        self._step_tab(-1)

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def _step_tab(self, step: int) -> None:
        tabs = self.query_one("#details", TabbedContent)
        n = self.DETAIL_TABS.index(tabs.active) if tabs.active in self.DETAIL_TABS else 0
        tabs.active = self.DETAIL_TABS[(n + step) % len(self.DETAIL_TABS)]

    def action_disk_usage(self) -> None:
        self._open(DISK_USAGE, "DiskUsageScreen")

    def run_command(self, action: str) -> None:
        """Run an action by name (from the command palette)."""
        getattr(self, f"action_{action}")()
