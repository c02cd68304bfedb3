"""Two images compared: which files came, went or changed, and how their configs differ.

Both images are analysed (layers read once, cached per layer, as the Layers tab does), then their
final file systems are compared by type, content hash, size, mode, owner and link target. The
same comparison as `imgtui diff A B`, on a screen with a filter.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, ProgressBar, Static
from textual.worker import get_current_worker

from imgtui.analysis.model import AnalysisProgress, ImageDiff
from imgtui.backends.base import Backend, BackendError
from imgtui.widgets.footer import Footer
from imgtui.widgets.image_table import human_size

STYLES = {"added": "green", "removed": "red", "changed": "yellow"}
SIGNS = {"added": "+", "removed": "−", "changed": "~"}


def diff_summary(d: ImageDiff) -> str:
    counts = {k: sum(1 for f in d.files if f.change == k) for k in ("added", "removed", "changed")}
    delta = d.size2 - d.size1
    sign = "+" if delta >= 0 else "−"
    return (
        f"{d.image1} → {d.image2}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed files · size {human_size(d.size1)} → "
        f"{human_size(d.size2)} ({sign}{human_size(abs(delta))}) · "
        f"{len(d.config)} config change(s)"
    )


class DiffScreen(Screen[None]):
    """Escape goes back; `/` filters the paths; the config differences are listed below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("slash", "find", "Filter", key_display="/"),
    ]

    DEFAULT_CSS = """
    DiffScreen {
        background: $background;
        & #diff-summary { padding: 0 1; height: auto; text-style: bold; }
        & #diff-progress { padding: 0 1; height: 1; }
        & #diff-filter { height: 1; border: none; padding: 0 1; background: $surface; }
        & #diff-filter:focus { background: $boost; }
        & #diff-files { height: 2fr; }
        & #diff-config { height: 1fr; border-top: solid $primary 50%; padding: 0 1; }
    }
    """

    class Progress(Message):
        def __init__(self, which: int, progress: AnalysisProgress) -> None:
            super().__init__()
            self.which, self.progress = which, progress

    class Done(Message):
        def __init__(self, diff: ImageDiff | None, error: str = "") -> None:
            super().__init__()
            self.diff, self.error = diff, error

    def __init__(self, backend: Backend, first: str, second: str) -> None:
        super().__init__()
        self.backend = backend
        self.first, self.second = first, second
        self.result: ImageDiff | None = None
        self.filter = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(f"Comparing {self.first} and {self.second}…", id="diff-summary")
            yield ProgressBar(id="diff-progress", show_eta=False)
            yield Input(placeholder="/ filter paths", id="diff-filter")
            table: DataTable[Any] = DataTable(
                id="diff-files", cursor_type="row", zebra_stripes=True
            )
            for label in ("", "PATH", "WHAT", "BEFORE", "AFTER"):
                table.add_column(label, key=label.lower() or "sign")
            yield table
            yield Static("", id="diff-config")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "image diff"
        self.query_one(DataTable).focus()
        self.compare(self.first, self.second)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def compare(self, first: str, second: str) -> None:
        from imgtui.analysis.api import diff

        worker = get_current_worker()
        try:
            analyses = []
            for which, ref in enumerate((first, second)):

                def progress(p: AnalysisProgress, which: int = which) -> None:
                    self.post_message(self.Progress(which, p))

                analyses.append(self.backend.analyze(ref, trees=True, progress=progress))
            result = diff(analyses[0], analyses[1])
        except (BackendError, ValueError) as e:
            if not worker.is_cancelled:
                self.post_message(self.Done(None, " ".join(str(e).split())))
            return
        if not worker.is_cancelled:
            self.post_message(self.Done(result))

    @on(Progress)
    def show_progress(self, event: Progress) -> None:
        p = event.progress
        bar = self.query_one(ProgressBar)
        bar.update(total=2 * p.total, progress=event.which * p.total + p.index + 1)

    @on(Done)
    def show(self, event: Done) -> None:
        self.query_one(ProgressBar).display = False
        if event.diff is None:
            self.query_one("#diff-summary", Static).update(f"Cannot compare: {event.error}")
            self.notify(event.error, title="Diff", severity="error", timeout=8)
            return
        self.result = event.diff
        self.query_one("#diff-summary", Static).update(diff_summary(event.diff))
        self.fill()
        if event.diff.config:
            lines = Text("Config\n", style="bold")
            for c in event.diff.config:
                lines.append(f"{c.key}: ", style="bold")
                lines.append(f"{json.dumps(c.before)}", style="red")
                lines.append(" → ")
                lines.append(f"{json.dumps(c.after)}\n", style="green")
        else:
            lines = Text("Config: the same runtime configuration", style="dim")
        self.query_one("#diff-config", Static).update(lines)

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        if self.result is None:
            return
        needle = self.filter.lower()
        for f in self.result.files:
            if needle and needle not in f.path.lower():
                continue
            style = STYLES[f.change]
            table.add_row(
                Text(SIGNS[f.change], style=style),
                Text(f.path, style=style),
                ", ".join(f.what),
                _facts(f.before),
                _facts(f.after),
            )

    @on(Input.Changed, "#diff-filter")
    def filtered(self, event: Input.Changed) -> None:
        self.filter = event.value
        self.fill()

    @on(Input.Submitted, "#diff-filter")
    def keep_filter(self) -> None:
        self.query_one(DataTable).focus()

    def action_find(self) -> None:
        self.query_one("#diff-filter", Input).focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _facts(node: Any) -> str:
    if node is None:
        return ""
    size = human_size(node.size) if node.kind == "file" else node.kind
    link = f" → {node.link}" if node.link else ""
    return f"{size} {oct(node.mode)[2:]} {node.uid}:{node.gid}{link}"
