"""The Textual app: the image list beside the history and Dockerfile of the highlighted image."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timezone

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from imgtui.analysis import dockerfile
from imgtui.backends.base import Backend
from imgtui.messages import DetailsLoaded, ImagesLoaded, InfoLoaded
from imgtui.styles import STYLESHEETS
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import ImageTable


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ImgtuiApp(App[None]):
    """The backend is passed in, so tests can hand it a real engine or a store in tmp_path."""

    TITLE = "imgtui"
    CSS_PATH = STYLESHEETS
    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, backend: Backend, clock: Callable[[], datetime] = _utcnow) -> None:
        super().__init__()
        self.backend = backend
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield ImageTable(id="image-table")
            with TabbedContent(id="details"):
                with TabPane("History", id="history-tab"):
                    yield HistoryView(id="history-view")
                with TabPane("Dockerfile", id="dockerfile-tab"):
                    yield DockerfileView(id="dockerfile-view")
        yield Static("", id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.load_info()
        self.load_images()

    def action_refresh(self) -> None:
        self.load_images()

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def load_info(self) -> None:
        self.post_message(InfoLoaded(self.backend.info()))

    @work(thread=True, exclusive=True, group="images", exit_on_error=False)
    def load_images(self) -> None:
        images = self.backend.images()
        images.sort(key=lambda i: i.created, reverse=True)
        self.post_message(ImagesLoaded(images))

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def load_details(self, image_id: str) -> None:
        history = self.backend.history(image_id)
        config = self.backend.inspect(image_id).config
        self.post_message(DetailsLoaded(image_id, history, dockerfile.reconstruct(history, config)))

    @on(InfoLoaded)
    def show_info(self, event: InfoLoaded) -> None:
        info = event.info
        self.sub_title = f"{info.name} · {info.location}" + (
            f" · {info.version}" if info.version else ""
        )

    @on(ImagesLoaded)
    def show_images(self, event: ImagesLoaded) -> None:
        table = self.query_one(ImageTable)
        table.show(event.images, self.clock())
        total = sum(i.size for i in event.images)
        from humanize import naturalsize

        self.query_one("#status-line", Static).update(
            f"{len(event.images)} images · {naturalsize(total)}"
        )
        image = table.current_image
        if image is not None:
            self.load_details(image.id)

    @on(ImageTable.Highlighted)
    def follow_cursor(self, event: ImageTable.Highlighted) -> None:
        self.load_details(event.image.id)

    @on(DetailsLoaded)
    def show_details(self, event: DetailsLoaded) -> None:
        current = self.query_one(ImageTable).current_image
        if current is not None and current.id != event.image_id:
            return  # the cursor moved on while this loaded
        self.query_one(HistoryView).show(event.history)
        self.query_one(DockerfileView).show(event.dockerfile)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error", timeout=8)


def run_app(args: argparse.Namespace) -> int:
    """Open the backend the flags name, then hand the terminal to the app."""
    import sys

    from imgtui.backends.base import BackendError
    from imgtui.cli import open_backend

    backend = open_backend(args)
    try:
        backend.info()
    except BackendError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    try:
        ImgtuiApp(backend).run()
    finally:
        backend.close()
    return 0
