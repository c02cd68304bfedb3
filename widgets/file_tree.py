"""A layer's file tree, drawn like dive's: permissions, owner, size, then the tree itself.

Virtual: it keeps the flattened lines of what is expanded and draws only those on screen, so a
100,000-file layer scrolls as smoothly as a small one (Textual's Tree makes a widget-side node
for every path, which takes seconds at that size).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from imgtui.analysis.browse import Line, SortKey, TreeNode, flatten, folders, mode_text, owner_text
from imgtui.widgets.image_table import human_size

AUTO_EXPAND_PATHS = 3000  # below this many paths everything starts expanded, as in dive
SIZE_WIDTH = 9


class FileTree(ScrollView, can_focus=True):
    """Lines of one tree; enter or space folds a folder, left/right close and open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
        Binding("enter,space", "toggle", "Fold", show=False),
        Binding("left,h", "collapse", "Close", show=False),
        Binding("right,l", "expand", "Open", show=False),
        Binding("minus", "collapse_all", "Close all", show=False),
        Binding("plus,equals_sign", "expand_all", "Open all", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "file-tree--cursor",
        "file-tree--added",
        "file-tree--modified",
        "file-tree--removed",
        "file-tree--dim",
    }

    DEFAULT_CSS = """
    FileTree {
        height: 1fr;
        & > .file-tree--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .file-tree--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .file-tree--added { color: $success; }
        & > .file-tree--modified { color: $warning; }
        & > .file-tree--removed { color: $error; text-style: strike; }
        & > .file-tree--dim { color: $text-muted; }
    }
    """

    class Highlighted(Message):
        """The cursor is on `node` (None when the tree is empty)."""

        def __init__(self, node: TreeNode | None) -> None:
            super().__init__()
            self.node = node

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root: TreeNode | None = None
        self.lines: list[Line] = []
        self.expanded: set[str] = set()
        self.sort: SortKey = "name"
        self.cursor = 0
        self.empty_text = ""
        self._owner_width = 3
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ content

    def show(self, root: TreeNode | None, *, paths: int = 0, keep_expansion: bool = False) -> None:
        """Show a tree; a small one opens fully, a big one at its top two levels."""
        current = self.current.path if self.current is not None else None
        self.root = root
        if root is not None and not keep_expansion:
            depth = None if paths <= AUTO_EXPAND_PATHS else 1
            self.expanded = set(folders(root, depth))
        self._reflow(current)

    def set_sort(self, sort: SortKey) -> None:
        self.sort = sort
        self._reflow(self.current.path if self.current is not None else None)

    def refilter(self) -> None:
        """The tree's visible marks changed (a new filter): draw again, cursor kept if it can."""
        self._reflow(self.current.path if self.current is not None else None)

    @property
    def current(self) -> TreeNode | None:
        return self.lines[self.cursor].node if 0 <= self.cursor < len(self.lines) else None

    def _reflow(self, keep: str | None) -> None:
        self.lines = flatten(self.root, self.expanded, self.sort) if self.root is not None else []
        self.cursor = 0
        if keep is not None:
            for n, line in enumerate(self.lines):
                if line.node.path == keep:
                    self.cursor = n
                    break
        width = max((len(line.guides) + len(line.node.name) for line in self.lines), default=0)
        self._owner_width = max((len(owner_text(line.node)) for line in self.lines), default=3)
        self.virtual_size = Size(width + SIZE_WIDTH + self._owner_width + 16, len(self.lines))
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    # ------------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, where: int) -> None:
        self._move(0 if where == 0 else len(self.lines) - 1)

    def _move(self, index: int) -> None:
        if not self.lines:
            return
        index = max(0, min(index, len(self.lines) - 1))
        if index != self.cursor:
            self.cursor = index
            self._scroll_to_cursor()
            self.refresh()
            self.post_message(self.Highlighted(self.current))

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height or 1
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_toggle(self) -> None:
        node = self.current
        if node is None or not node.children:
            return
        self.expanded ^= {node.path}
        self._reflow(node.path)

    def action_expand(self) -> None:
        node = self.current
        if node is not None and node.children and node.path not in self.expanded:
            self.expanded.add(node.path)
            self._reflow(node.path)

    def action_collapse(self) -> None:
        node = self.current
        if node is None:
            return
        if node.children and node.path in self.expanded:
            self.expanded.discard(node.path)
            self._reflow(node.path)
            return
        parent = node.path.rpartition("/")[0]  # already closed: go up to the parent folder
        for n, line in enumerate(self.lines):
            if line.node.path == parent:
                self._move(n)
                break

    def action_expand_all(self) -> None:
        if self.root is not None:
            self.expanded = set(folders(self.root))
            self._reflow(self.current.path if self.current is not None else None)

    def action_collapse_all(self) -> None:
        self.expanded.clear()
        node = self.current
        top = node.path.split("/")[1] if node is not None else None
        self._reflow(f"/{top}" if top else None)

    def on_click(self, event: events.Click) -> None:
        index = round(self.scroll_y) + event.y
        if 0 <= index < len(self.lines):
            if index == self.cursor and event.chain > 1:
                self.action_toggle()
            else:
                self._move(index)

    # ------------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        super().notify_style_update()
        cache = getattr(self, "_styles", None)
        if cache is not None:
            cache.clear()

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self.rich_style if not component else self.get_component_rich_style(component)
            self._styles[component] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        base = self._style("")
        if index >= len(self.lines):
            if index == 0 and self.empty_text:
                dim = self._style("file-tree--dim")
                return Strip([Segment(f" {self.empty_text}", dim)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        line = self.lines[index]
        node = line.node
        style = base
        if node.change != "unchanged":
            style = base + self._style(f"file-tree--{node.change}")
        dim = self._style("file-tree--dim")
        if index == self.cursor:
            cursor = self._style("file-tree--cursor")
            style, dim = style + cursor, dim + cursor
        size = human_size(node.size) if node.size or node.kind == "file" else ""
        name = node.name
        if node.node is not None and node.node.link:
            name += f" → {node.node.link}"
        segments = [
            Segment(f" {mode_text(node)} {owner_text(node):>{self._owner_width}} ", dim),
            Segment(f"{size:>{SIZE_WIDTH}}  ", style),
            Segment(line.guides, dim),
            Segment(name, style),
        ]
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def on_focus(self) -> None:
        self._styles.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._styles.clear()
        self.refresh()
