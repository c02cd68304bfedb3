"""The layer history of one image, like `docker history --no-trunc`: newest first, wrapped."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from imgtui.backends.base import HistoryEntry
from imgtui.widgets.image_table import human_size

SIZE_WIDTH = 9


class HistoryView(DataTable[str]):
    """Full commands, never cut (dive #356 and #376 ask for exactly that); re-wrapped on resize."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._entries: Sequence[HistoryEntry] = ()
        self._wrapped_at = 0

    def on_mount(self) -> None:
        self.add_column("SIZE", key="size", width=SIZE_WIDTH)
        self.add_column("CREATED BY", key="created_by")

    def show(self, entries: Sequence[HistoryEntry]) -> None:
        """Replace the rows with `entries` (newest first, as backends return them)."""
        self._entries = entries
        self._fill()

    def _fill(self) -> None:
        self.clear()
        # The size column, the cell padding of both columns and a scrollbar take the rest.
        width = max(20, (self.size.width or 60) - SIZE_WIDTH - 6)
        self._wrapped_at = width
        for i, e in enumerate(self._entries):
            text = " ".join(e.created_by.split()) or f"({e.comment or 'no command'})"
            lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
            size = Text(human_size(e.size), justify="right")
            if e.empty_layer or not e.size:
                size.stylize("dim")
            # Text, never markup: commands hold brackets such as SHELL ["/bin/sh", "-c"].
            self.add_row(size, Text("\n".join(lines)), height=len(lines), key=str(i))
        # DataTable sizes auto-width columns only when its queue runs dry, without dropping its
        # cell cache: a paint in between left commands cut at the header's width. Fix the width.
        column = self.columns.get(ColumnKey("created_by"))
        if column is not None:
            column.width, column.auto_width = width, False

    def on_resize(self, event: events.Resize) -> None:
        width = max(20, event.size.width - SIZE_WIDTH - 6)
        if self._entries and width != self._wrapped_at:
            self._fill()
