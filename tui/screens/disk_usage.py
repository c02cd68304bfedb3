"""`docker system df -v`, drawn: which images own their bytes, which share them, what goes.

People misread SIZE, SHARED and RECLAIMABLE (podman's own docs warn its figure can be wrong
with shared layers), so the view ranks images by the bytes only they hold and says what each
figure means.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Static
from textual.worker import Worker, WorkerState

from imgtui import fmt, render
from imgtui.backends.base import Backend, BackendError, DiskUsage
from imgtui.widgets.footer import Footer
from imgtui.widgets.usage_bars import SHARED_CELL, UNIQUE_CELL, UsageBars

LEGEND = (
    "SIZE: every byte of an image's layers · SHARED: bytes in layers other images use too "
    "· UNIQUE: bytes only this image holds, freed when it goes · RECLAIMABLE: what removing "
    "everything no container uses would free"
)

TOTAL_COLUMNS = ("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE")


def cleanup_figures(du: DiskUsage) -> str:
    """What each clean-up kind frees, in one line (the bars above explain the image part)."""
    dangling = sum(
        max(0, i.unique_size) for i in du.images if not i.repo_tags and i.containers == 0
    )
    return (
        f"Clean-up frees about: dangling images {fmt.human_size(dangling, 4)} · "
        f"unused images {fmt.human_size(du.images_reclaimable, 4)} · "
        f"stopped containers {fmt.human_size(du.containers_reclaimable, 4)} · "
        f"build cache {fmt.human_size(du.build_cache_reclaimable, 4)}"
    )


class DiskUsageScreen(Screen[None]):
    """Totals as `docker system df` prints them, then one bar per image, biggest unique first."""

    DEFAULT_CSS = """
    DiskUsageScreen {
        background: $background;
    }
    DiskUsageScreen > #usage {
        height: 1fr;
        padding: 0 1;
    }
    DiskUsageScreen #usage-title {
        text-style: bold;
        color: $primary;
        margin: 1 0;
    }
    DiskUsageScreen #df-totals {
        height: auto;
        max-height: 7;
        margin-bottom: 1;
    }
    DiskUsageScreen #df-cleanup {
        height: auto;
        color: $text;
    }
    DiskUsageScreen #df-legend {
        height: auto;
        color: $text-muted;
        margin-bottom: 1;
    }
    DiskUsageScreen #df-error {
        height: auto;
        color: $text-error;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("u", "close", "Close", show=False),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.usage: DiskUsage | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="usage"):
            yield Label("Disk usage (docker system df -v)", id="usage-title")
            yield DataTable(id="df-totals", cursor_type="none", show_cursor=False)
            yield Static("", id="df-cleanup")
            yield Static(Text(LEGEND), id="df-legend")
            yield Static("", id="df-error")
            yield UsageBars(id="usage-bars")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#df-totals", DataTable).add_columns(*TOTAL_COLUMNS)
        self.query_one(UsageBars).focus()
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="df", exit_on_error=False)
    def load(self) -> DiskUsage:
        return self.backend.disk_usage()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "df":
            return
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self.show_usage(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            self.error = str(error) if isinstance(error, BackendError) else repr(error)
            self.query_one("#df-error", Static).update(Text(self.error))
            self.notify(self.error, severity="error", timeout=8)

    def show_usage(self, du: DiskUsage) -> None:
        """Fill the totals exactly as render.df_rows words them, then the bars."""
        self.usage = du
        self.error = ""
        self.query_one("#df-error", Static).update("")
        table = self.query_one("#df-totals", DataTable)
        table.clear()
        for row in render.df_rows(du):
            table.add_row(
                row["Type"],
                row["TotalCount"],
                row["Active"],
                row["Size"],
                row["Reclaimable"],
                key=row["Type"],
            )
        self.query_one("#df-cleanup", Static).update(Text(cleanup_figures(du)))
        self.query_one(UsageBars).show(du.images)
        self.sub_title = (
            f"{len(du.images)} images · {fmt.human_size(du.layers_size, 4)} · "
            f"{UNIQUE_CELL} unique {SHARED_CELL} shared"
        )
