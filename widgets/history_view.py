"""The layer history of one image, like `docker history --no-trunc`, commands wrapped."""

from __future__ import annotations

from collections.abc import Sequence

from humanize import naturalsize
from rich.text import Text
from textual.widgets import DataTable

from imgtui.backends.base import HistoryEntry


class HistoryView(DataTable[str]):
    """Newest layer first; full commands, never cut (dive #356 asks for exactly that)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        self.add_column("SIZE", key="size")
        self.add_column("CREATED BY", key="created_by")

    def show(self, entries: Sequence[HistoryEntry]) -> None:
        self.clear()
        width = max(20, (self.size.width or 80) - 14)
        for i, e in enumerate(entries):
            text = " ".join(e.created_by.split()) or f"({e.comment or 'no command'})"
            lines = [text[j : j + width] for j in range(0, len(text), width)] or [""]
            self.add_row(
                "" if e.empty_layer else naturalsize(e.size),
                Text("\n".join(lines)),  # commands are not markup: SHELL ["/bin/sh", "-c"]
                height=len(lines),
                key=str(i),
            )
