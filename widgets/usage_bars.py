"""Per-image disk usage as horizontal bars: unique bytes, then shared bytes, ranked by unique size.

A line-API widget: only the visible rows are drawn, so 10,000 images scroll as cheaply as ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from imgtui import fmt
from imgtui.backends.base import ImageUsage

UNIQUE_CELL = "█"
SHARED_CELL = "░"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One bar: what the image is called and how its bytes split."""

    label: str
    short_id: str
    unique: int
    shared: int
    containers: int

    @property
    def size(self) -> int:
        return self.unique + self.shared


def usage_rows(images: Sequence[ImageUsage]) -> list[UsageRow]:
    """Rows ranked by unique bytes (what removing the image frees), biggest first."""
    rows = []
    for i in images:
        name = i.repo_tags[0] if i.repo_tags else "<none>:<none>"
        if len(i.repo_tags) > 1:
            name += f" +{len(i.repo_tags) - 1}"
        rows.append(
            UsageRow(
                label=name,
                short_id=fmt.truncate_id(i.id),
                unique=max(0, i.unique_size),
                shared=max(0, i.shared_size),
                containers=i.containers,
            )
        )
    rows.sort(key=lambda r: (-r.unique, -r.size, r.label))
    return rows


def bar_cells(row: UsageRow, biggest: int, width: int) -> tuple[int, int]:
    """Cells for the unique and the shared part, on one scale for every row so bars compare."""
    if biggest <= 0 or width <= 0:
        return 0, 0
    unique = round(row.unique * width / biggest)
    total = round(row.size * width / biggest)
    if row.unique > 0 and unique == 0:
        unique = 1  # a few bytes still show, or a small image would look free to remove
    if row.shared > 0 and total <= unique:
        total = unique + 1
    return unique, min(total, width) - unique


class UsageBars(ScrollView, can_focus=True):
    """Draws UsageRows with a sticky header; theme colours come from component classes."""

    COMPONENT_CLASSES = {
        "usage-bars--header",
        "usage-bars--unique",
        "usage-bars--shared",
        "usage-bars--muted",
    }

    DEFAULT_CSS = """
    UsageBars {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
    }
    UsageBars > .usage-bars--header {
        color: $text-muted;
        text-style: bold;
    }
    UsageBars > .usage-bars--unique {
        color: $primary;
    }
    UsageBars > .usage-bars--shared {
        color: $secondary;
    }
    UsageBars > .usage-bars--muted {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
        Binding("g,home", "scroll_home", "Top", show=False),
        Binding("G,end", "scroll_end", "Bottom", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
    ]

    SIZE_WIDTH = 10
    ID_WIDTH = 12

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: list[UsageRow] = []
        self._biggest = 0
        self._label_width = 10

    @property
    def rows(self) -> list[UsageRow]:
        """The rows in the order drawn."""
        return list(self._rows)

    def show(self, images: Sequence[ImageUsage]) -> None:
        """Replace the bars with these images' figures."""
        self._rows = usage_rows(images)
        self._biggest = max((r.size for r in self._rows), default=0)
        longest = max((fmt.cell_width(r.label) for r in self._rows), default=0)
        self._label_width = min(max(10, longest), 40)
        self.virtual_size = Size(0, len(self._rows) + 1)  # +1: the header line
        self.refresh()

    def _columns(self) -> tuple[int, int]:
        """Label width and bar width for the current size."""
        width = self.scrollable_content_region.width
        fixed = self.ID_WIDTH + 2 * self.SIZE_WIDTH + 6 + 5  # ids, sizes, containers, gaps
        label = min(self._label_width, max(8, width // 3))
        return label, max(4, width - label - fixed)

    def _cell(self, text: str, width: int, *, right: bool = False) -> str:
        text = fmt.ellipsis(text, width)
        pad = " " * max(0, width - fmt.cell_width(text))
        return pad + text if right else text + pad

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        label_w, bar_w = self._columns()
        size_w = self.SIZE_WIDTH
        if y == 0:
            header = self.get_component_rich_style("usage-bars--header")
            text = (
                self._cell("IMAGE", label_w)
                + " "
                + self._cell("IMAGE ID", self.ID_WIDTH)
                + " "
                + self._cell(f"{UNIQUE_CELL} unique  {SHARED_CELL} shared", bar_w)
                + " "
                + self._cell("UNIQUE", size_w, right=True)
                + " "
                + self._cell("SHARED", size_w, right=True)
                + " "
                + self._cell("CTRS", 5, right=True)
            )
            return Strip([Segment(text, base + header)]).adjust_cell_length(width, base)
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        return self._row_strip(self._rows[index], width)

    def _row_strip(self, row: UsageRow, width: int) -> Strip:
        base = self.rich_style
        muted = base + self.get_component_rich_style("usage-bars--muted")
        label_w, bar_w = self._columns()
        size_w = self.SIZE_WIDTH
        unique_cells, shared_cells = bar_cells(row, self._biggest, bar_w)
        unique_style: Style = base + self.get_component_rich_style("usage-bars--unique")
        shared_style: Style = base + self.get_component_rich_style("usage-bars--shared")
        segments = [
            Segment(self._cell(row.label, label_w) + " ", base),
            Segment(self._cell(row.short_id, self.ID_WIDTH) + " ", muted),
            Segment(UNIQUE_CELL * unique_cells, unique_style),
            Segment(SHARED_CELL * shared_cells, shared_style),
            Segment(" " * (bar_w - unique_cells - shared_cells) + " ", base),
            Segment(self._cell(fmt.human_size(row.unique, 4), size_w, right=True) + " ", base),
            Segment(self._cell(fmt.human_size(row.shared, 4), size_w, right=True) + " ", muted),
            Segment(self._cell(str(row.containers), 5, right=True), base),
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def line_text(self, index: int) -> str:
        """The plain text of row `index` (0 = biggest) at the current width; for tests."""
        if not 0 <= index < len(self._rows):
            return ""
        return self._row_strip(self._rows[index], self.scrollable_content_region.width).text
