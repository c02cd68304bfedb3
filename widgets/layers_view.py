"""The Layers tab: why an image is as big as it is, layer by layer, with dive's figures on top.

The analysis reads every layer once (cached per layer afterwards), so it starts only when the tab
is open and runs in a thread worker with a progress bar; moving to another image cancels it at the
next layer. Tree building and filtering walk every path, so they run in workers too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, ProgressBar, Static
from textual.worker import get_current_worker

from imgtui.analysis.browse import CHANGES, SortKey, TreeNode, apply_filter, build_tree, count
from imgtui.analysis.model import AnalysisProgress, Change, ImageAnalysis
from imgtui.widgets.file_tree import FileTree
from imgtui.widgets.image_table import human_size

CHANGE_KEYS = {"added": "A", "modified": "M", "removed": "R", "unchanged": "U"}


class _Cancelled(Exception):
    """Raised from the progress callback: the user moved to another image."""


class LayersView(Vertical):
    """Summary, progress, the layer list, and the file tree of the chosen layer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "toggle_view", "Layer/all"),
        Binding("A", "toggle_change('added')", "Added", show=False),
        Binding("M", "toggle_change('modified')", "Modified", show=False),
        Binding("R", "toggle_change('removed')", "Removed", show=False),
        Binding("U", "toggle_change('unchanged')", "Unchanged", show=False),
        Binding("o", "toggle_sort", "Sort size"),
        Binding("f", "find_path", "Find path"),
        Binding("y", "copy_path", "Copy path"),
    ]

    DEFAULT_CSS = """
    LayersView {
        height: 1fr;
        & > #layers-summary { padding: 0 1; height: auto; }
        & > #layers-progress { padding: 0 1; height: 1; }
        & > #layers-list { height: auto; max-height: 9; overflow-x: hidden; }
        & > #layers-mode { padding: 0 1; height: 1; color: $text-muted; background: $panel; }
        & > #layers-path {
            height: 1; border: none; padding: 0 1; background: $surface;
            &:focus { background: $boost; }
        }
        & > #layers-tree { height: 1fr; }
    }
    """

    class Progress(Message):
        def __init__(self, image_id: str, progress: AnalysisProgress) -> None:
            super().__init__()
            self.image_id = image_id
            self.progress = progress

    class Analysed(Message):
        def __init__(self, image_id: str, analysis: ImageAnalysis | None, error: str = "") -> None:
            super().__init__()
            self.image_id = image_id
            self.analysis = analysis
            self.error = error

    class TreeReady(Message):
        def __init__(self, key: tuple[object, ...], root: TreeNode, paths: int, kept: int) -> None:
            super().__init__()
            self.key = key
            self.root = root
            self.paths = paths
            self.kept = kept

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_id: str | None = None  # the image the tab should show
        self.analysis: ImageAnalysis | None = None  # its analysis, once read
        self.layer_index = 0
        self.aggregated = True
        self.changes: set[Change] = set(CHANGES)
        self.path_filter = ""
        self.sort: SortKey = "name"
        self.active = False  # the tab is open: analyse on image change
        self.paths = 0
        self.kept = 0
        self._tree_key: tuple[object, ...] = ()
        self._shown_key: tuple[object, ...] = ()
        self.built = False  # children are mounted on the first opening, not at startup

    def compose(self) -> ComposeResult:
        return iter(())  # see activate(): nothing to mount until the tab is opened

    def _parts(self) -> list[Any]:
        table: DataTable[Any] = DataTable(id="layers-list", cursor_type="row", zebra_stripes=True)
        table.add_column("#", key="index")
        table.add_column("SIZE", key="size")
        table.add_column("+  ~  −", key="counts")
        table.add_column("COMMAND", key="command")
        bar = ProgressBar(id="layers-progress", show_eta=False)
        bar.display = False
        return [
            Static("", id="layers-summary"),
            bar,
            table,
            Static("", id="layers-mode"),
            Input(placeholder="f: filter paths", id="layers-path"),
            FileTree(id="layers-tree"),
        ]

    # ------------------------------------------------------------------ driving

    def show_image(self, image_id: str | None) -> None:
        """The highlighted image changed; analysed now when the tab is open, else when opened."""
        if image_id == self.image_id:
            return
        self.image_id = image_id
        self.analysis = None
        self.workers.cancel_group(self, "layers")
        if not self.built:
            return
        self._clear()
        if image_id is None:
            self._say("No image.")
        elif self.active:
            self._start()

    async def activate(self, active: bool) -> None:
        """The tab was opened (True) or left; the first opening mounts the parts."""
        self.active = active
        if active and not self.built:
            await self.mount_all(self._parts())
            self.built = True
            self._say("No image." if self.image_id is None else "")
        if active and self.image_id is not None and self.analysis is None:
            self._start()

    def _start(self) -> None:
        assert self.image_id is not None
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self._say("Reading layers…")
        self.analyse(self.image_id)

    @work(thread=True, exclusive=True, group="layers", exit_on_error=False)
    def analyse(self, image_id: str) -> None:
        worker = get_current_worker()

        def progress(p: AnalysisProgress) -> None:
            if worker.is_cancelled:
                raise _Cancelled
            self.post_message(self.Progress(image_id, p))

        try:
            analysis = self.app.backend.analyze(image_id, trees=True, progress=progress)  # type: ignore[attr-defined]
        except _Cancelled:
            return
        except Exception as e:  # one line in the tab and a notification, never a crash
            if not worker.is_cancelled:
                self.post_message(self.Analysed(image_id, None, _one_line(e)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Analysed(image_id, analysis))

    @on(Progress)
    def _progress(self, event: Progress) -> None:
        if event.image_id != self.image_id:
            return
        p = event.progress
        bar = self.query_one(ProgressBar)
        bar.update(total=p.total, progress=p.index + (1 if p.cached else 0))
        self._say(f"Reading layer {p.index + 1} of {p.total}…" + (" (cached)" if p.cached else ""))

    @on(Analysed)
    def _analysed(self, event: Analysed) -> None:
        if event.image_id != self.image_id:
            return
        self.query_one(ProgressBar).display = False
        if event.analysis is None:
            self._say(f"Analysis failed: {event.error}")
            self.notify(event.error, title="Layers", severity="error", timeout=8)
            return
        self.analysis = a = event.analysis
        self.query_one("#layers-summary", Static).update(summary(a))
        table = self.query_one("#layers-list", DataTable)
        table.clear()
        for layer in a.layers:
            counts = f"{layer.added:>3} {layer.modified:>2} {layer.removed:>2}"
            table.add_row(
                str(layer.index + 1),
                Text(human_size(layer.size), justify="right"),
                counts,
                _command(layer.command),
                key=str(layer.index),
            )
        self.layer_index = len(a.layers) - 1
        if a.layers:
            table.move_cursor(row=self.layer_index, animate=False)
        self._rebuild()

    @on(DataTable.RowHighlighted, "#layers-list")
    def _layer_chosen(self, event: DataTable.RowHighlighted) -> None:
        if self.analysis is None or event.row_key.value is None:
            return
        index = int(event.row_key.value)
        if index != self.layer_index:
            self.layer_index = index
            self._rebuild()

    def _rebuild(self) -> None:
        a = self.analysis
        if a is None or not a.layers:
            self.query_one(FileTree).show(None)
            return
        key = (a.id, self.layer_index, self.aggregated, frozenset(self.changes), self.path_filter)
        self._tree_key = key
        self._show_mode()
        self.build(key, a, self.layer_index, self.aggregated, set(self.changes), self.path_filter)

    @work(thread=True, exclusive=True, group="layers-tree", exit_on_error=False)
    def build(
        self,
        key: tuple[object, ...],
        analysis: ImageAnalysis,
        layer: int,
        aggregated: bool,
        changes: set[Change],
        text: str,
    ) -> None:
        root = build_tree(analysis, layer, aggregated=aggregated)
        paths = count(root)
        kept = apply_filter(root, changes, text)
        if not get_current_worker().is_cancelled:
            self.post_message(self.TreeReady(key, root, paths, kept))

    @on(TreeReady)
    def _tree_ready(self, event: TreeReady) -> None:
        if event.key != self._tree_key:
            return  # a newer choice is being built
        tree = self.query_one(FileTree)
        same_layer = tree.root is not None and event.key[:3] == self._shown_key[:3]
        self._shown_key = event.key
        self.paths, self.kept = event.paths, event.kept
        tree.empty_text = "Nothing matches the filter." if event.paths else "This layer is empty."
        tree.sort = self.sort
        tree.show(event.root, paths=event.paths, keep_expansion=same_layer)
        self._show_mode()

    # ------------------------------------------------------------------ keys

    def action_toggle_view(self) -> None:
        self.aggregated = not self.aggregated
        self._rebuild()

    def action_toggle_change(self, change: Change) -> None:
        self.changes ^= {change}
        if not self.changes:  # nothing at all is no view: back to everything
            self.changes = set(CHANGES)
        self._rebuild()

    def action_toggle_sort(self) -> None:
        self.sort = "size" if self.sort == "name" else "name"
        self.query_one(FileTree).set_sort(self.sort)
        self._show_mode()

    def action_find_path(self) -> None:
        self.query_one("#layers-path", Input).focus()

    def action_copy_path(self) -> None:
        node = self.query_one(FileTree).current
        if node is None:
            self.notify("No path under the cursor", severity="warning")
            return
        copy = getattr(self.screen, "copy_text", None)
        if callable(copy):
            copy("path", node.path)

    @on(Input.Changed, "#layers-path")
    def _path_typed(self, event: Input.Changed) -> None:
        event.stop()  # the main screen's image filter listens for Input.Changed too
        self.path_filter = event.value
        self._rebuild()

    @on(Input.Submitted, "#layers-path")
    def _path_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(FileTree).focus()

    # ------------------------------------------------------------------ text

    def _show_mode(self) -> None:
        a = self.analysis
        if a is None or not a.layers:
            return
        view = "all layers up to it" if self.aggregated else "this layer only"
        shown = (
            "all changes"
            if self.changes == set(CHANGES)
            else "+".join(CHANGE_KEYS[c] for c in CHANGES if c in self.changes)
        )
        parts = [f"layer {self.layer_index + 1}/{len(a.layers)}: {view}", shown, f"by {self.sort}"]
        if self.path_filter:
            parts.append(f"“{self.path_filter}”")
        if self.paths:
            parts.append(f"{self.kept:,} of {self.paths:,} paths")
        self.query_one("#layers-mode", Static).update(" · ".join(parts))

    def _say(self, text: str) -> None:
        self.query_one("#layers-summary", Static).update(text)

    def _clear(self) -> None:
        self.query_one("#layers-list", DataTable).clear()
        self.query_one("#layers-mode", Static).update("")
        self.query_one(FileTree).show(None)
        self.query_one(ProgressBar).display = False
        self._shown_key = ()


def summary(a: ImageAnalysis) -> Text:
    """dive's three figures, and the worst files, in two or three lines."""
    text = Text()
    text.append("Efficiency ", style="bold")
    text.append(f"{a.efficiency * 100:.2f} %")
    text.append(" · wasted ", style="bold")
    text.append(human_size(a.wasted_bytes))
    text.append(" · user wasted ", style="bold")
    text.append(f"{a.user_wasted_percent * 100:.2f} %")
    text.append(f"\n{human_size(a.size)} in {len(a.layers)} layers")
    if a.inefficient:
        worst = ", ".join(
            f"{f.path} ({f.count}×, {human_size(f.wasted)})" for f in a.inefficient[:3]
        )
        text.append(f" · {len(a.inefficient)} inefficient files: {worst}", style="dim")
    return text


def _command(text: str) -> str:
    """One line of the layer's command, without the classic builder's "/bin/sh -c #(nop)"."""
    text = " ".join(text.split())
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text or "—"


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__
