"""Copy text: the system clipboard through pyperclip, else the terminal's OSC 52 sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pyperclip

if TYPE_CHECKING:
    from textual.app import App

Via = Literal["clipboard", "terminal"]


def to_system(text: str) -> bool:
    """Blocking (it may run xclip, wl-copy or pbcopy): call it from a thread worker."""
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        return False  # no clipboard mechanism here (headless, over ssh, in a container)
    return True


def to_terminal(app: App[object], text: str) -> Via:
    """OSC 52: the terminal (even at the far end of ssh) puts `text` on its clipboard."""
    app.copy_to_clipboard(text)
    return "terminal"


def copy(app: App[object], text: str) -> Via:
    """Both steps in one, for callers on the event loop that accept a short block."""
    return "clipboard" if to_system(text) else to_terminal(app, text)
