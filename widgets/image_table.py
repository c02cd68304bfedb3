"""The image list: one row per tag, like `docker images`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from humanize import naturalsize, naturaltime
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from imgtui.backends.base import ImageSummary

COLUMNS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED", "CONTAINERS")


def _split(ref: str) -> tuple[str, str]:
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return (ref[:colon], ref[colon + 1 :]) if colon > slash else (ref, "<none>")


class ImageTable(DataTable[str]):
    """Shows images; the row key is "<image id>|<tag>" so each tag keeps its own row."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, image: ImageSummary) -> None:
            super().__init__()
            self.image = image

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._images: dict[str, ImageSummary] = {}

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, images: Sequence[ImageSummary], now: datetime) -> None:
        """Replace the rows, keeping the cursor on the same image and tag when it is still there."""
        current = self._current_key()
        self.clear()
        self._images = {}
        for image in images:
            refs = image.repo_tags or ("<none>:<none>",)
            for ref in refs:
                repo, tag = _split(ref)
                key = f"{image.id}|{ref}"
                self._images[key] = image
                shared = "" if image.shared_size is None else naturalsize(image.shared_size)
                used = "" if image.containers is None else str(image.containers)
                self.add_row(
                    Text(repo),  # never markup, whatever a name holds
                    Text(tag),
                    image.short_id,
                    naturaltime(image.created, when=now),
                    naturalsize(image.size),
                    shared,
                    used,
                    key=key,
                )
        self.set_class(not images, "-empty")
        if current is not None and current in self._images:
            self.move_cursor(row=self.get_row_index(current))

    def _current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    @property
    def current_image(self) -> ImageSummary | None:
        key = self._current_key()
        return self._images.get(key) if key else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        image = self._images.get(event.row_key.value or "")
        if image is not None:
            self.post_message(self.Highlighted(image))
