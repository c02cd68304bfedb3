"""The Dockerfile of one image, highlighted, under a caption that says where it came from."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

RECONSTRUCTED = "Reconstructed from history: it may differ from the original Dockerfile."
ORIGINAL = "The original Dockerfile, stored with the image."


class DockerfileView(VerticalScroll):
    """Read-only text: a Static with rich's Dockerfile lexer is all it takes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    DockerfileView {
        & > #dockerfile-caption {
            color: $text-muted;
            text-style: italic;
            padding: 0 1;
        }
        & > #dockerfile-code {
            padding: 0 1;
        }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = ""
        self.original = False

    def compose(self) -> ComposeResult:
        yield Static("", id="dockerfile-caption")
        yield Static("", id="dockerfile-code")

    def on_mount(self) -> None:
        # Pygments themes carry their own colours: pick one that reads on the current background.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_code())

    @property
    def caption(self) -> str:
        return ORIGINAL if self.original else RECONSTRUCTED if self.text else ""

    def show(self, text: str, *, original: bool = False) -> None:
        """Show `text`; `original` says it is the image's own Dockerfile, not a reconstruction."""
        self.text, self.original = text, original
        self.query_one("#dockerfile-caption", Static).update(self.caption)
        self._render_code()
        self.scroll_home(animate=False)

    def _render_code(self) -> None:
        # Imported here: rich.syntax brings pygments, 50 ms the first screen need not wait for.
        from rich.syntax import Syntax

        theme = "monokai" if self.app.current_theme.dark else "friendly"
        code = Syntax(self.text, "docker", theme=theme, word_wrap=True, background_color="default")
        self.query_one("#dockerfile-code", Static).update(code)
