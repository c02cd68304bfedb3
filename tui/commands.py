"""Every main-screen action once: its key, footer label, palette label and help line.

The bindings, the command palette and the help screen are all built from this table, so a key
cannot appear in one and be missing from another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from textual.app import SystemCommand
from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Command:
    key: str  # Textual key name(s)
    action: str  # the MainScreen action, without "action_"
    footer: str  # short label in the footer
    palette: str  # "topic: verb" in the command palette
    help: str  # one line for the palette and the help screen
    display: str = ""  # the key as the user sees it, when the name differs
    in_footer: bool = True  # the footer fits about a dozen keys at 120 columns; all are in help

    @property
    def shown_key(self) -> str:
        return self.display or self.key


MAIN_COMMANDS: tuple[Command, ...] = (
    Command("slash", "focus_filter", "Filter", "list: filter", "Filter by name, tag or id", "/"),
    Command("s", "cycle_sort", "Sort", "list: sort", "Sort by name, created, size in turn"),
    Command("space", "toggle_mark", "Mark", "list: mark", "Mark or unmark a row for bulk actions"),
    Command("r", "refresh", "Refresh", "list: refresh", "Reload the image list", in_footer=False),
    Command("t", "tag", "Tag", "image: tag", "Give the image another name"),
    Command("d", "remove", "Remove", "image: remove", "Remove the marked rows, or this one"),
    Command("p", "pull", "Pull", "image: pull", "Pull an image from a registry"),
    Command("P", "push", "Push", "image: push", "Push this tag to its registry", in_footer=False),
    Command("b", "build", "Build", "image: build", "Build an image from a Dockerfile"),
    Command(
        "c",
        "commit",
        "Commit",
        "container: commit",
        "Make an image from a container",
        in_footer=False,
    ),
    Command("x", "cleanup", "Clean up", "images: clean up", "See what a prune frees, then prune"),
    Command("u", "disk_usage", "Disk", "view: disk usage", "Unique and shared bytes per image"),
    Command("y", "copy_id", "Copy id", "image: copy id", "Copy the image id"),
    Command(
        "Y",
        "copy_ref",
        "Copy ref",
        "image: copy reference",
        "Copy the full reference",
        in_footer=False,
    ),
    Command(
        "l",
        "show_layers",
        "Layers",
        "view: layers",
        "Layer files, wasted space, efficiency",
    ),
    Command(
        "D",
        "diff",
        "Diff",
        "images: diff",
        "Compare two images: the marked one with this one",
        in_footer=False,
    ),
    Command(
        "R",
        "registry",
        "Registry",
        "registry: browse",
        "Browse a registry without pulling",
        in_footer=False,
    ),
    Command(
        "z",
        "zoom",
        "Zoom",
        "view: zoom details",
        "Details pane full screen, and back",
        in_footer=False,
    ),
    Command(
        "left_square_bracket",
        "prev_tab",
        "Prev tab",
        "view: previous tab",
        "Previous details tab",
        "[",
        in_footer=False,
    ),
    Command(
        "right_square_bracket",
        "next_tab",
        "Next tab",
        "view: next tab",
        "Next details tab",
        "]",
        in_footer=False,
    ),
    Command("question_mark", "help", "Help", "view: help", "Every key on one screen", "?"),
)

# Keys that are not actions of the main screen but belong in the help screen.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("j / k, ↓ / ↑", "Down / up in a list"),
    ("g / G", "First / last row"),
    ("click", "Select a row; on a header: sort by it"),
    ("enter", "In the filter: keep it, back to the list"),
    ("escape", "Clear the filter; close a dialog"),
    ("tab", "Next pane: filter, list, detail tabs"),
    ("ctrl+p", "Command palette"),
    ("q", "Quit"),
)


def bindings() -> list[Binding]:
    return [
        Binding(c.key, c.action, c.footer, key_display=c.display or None, show=c.in_footer)
        for c in MAIN_COMMANDS
    ]


def system_commands(run: Callable[[str], object]) -> Iterator[SystemCommand]:
    """Palette entries; `run` performs an action by name on the screen they were opened from."""
    for c in MAIN_COMMANDS:
        yield SystemCommand(c.palette, f"{c.help} (key {c.shown_key})", _bind(run, c.action))


def _bind(run: Callable[[str], object], action: str) -> Callable[[], None]:
    def invoke() -> None:
        run(action)

    return invoke
