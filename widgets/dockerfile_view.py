"""The Dockerfile of one image, highlighted."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.widgets import Static


class DockerfileView(Static):
    """Static text is enough: the pane is read-only and rich's Dockerfile lexer highlights it."""

    def show(self, text: str) -> None:
        self.update(Syntax(text, "docker", word_wrap=True, background_color="default"))
