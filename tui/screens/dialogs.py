"""Every action's dialog: each says what it will do, asks, then runs the backend in a thread worker.

Backend calls block, so they run in thread workers and never touch widgets: plain results come
back through the worker's state change, streams (pull, push, build) through an inbox that wakes
the event loop once however many events wait, so a chatty build cannot flood it. Errors are the
backend's one line, shown inside the dialog and as a notification.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Label,
    OptionList,
    ProgressBar,
    RadioButton,
    RadioSet,
    RichLog,
    Select,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from imgtui import fmt, reference, render
from imgtui.backends.base import (
    Backend,
    BackendError,
    BuildLog,
    BuildOptions,
    BuildResult,
    BuildStep,
    BytesProgress,
    ContainerSummary,
    DiskUsage,
    ImageSummary,
    InvalidReference,
    LayerProgress,
    ProgressEvent,
    PruneReport,
    RemoveResult,
    StatusLine,
    Unsupported,
    short_id,
)

__all__ = [
    "BuildDialog",
    "CleanupDialog",
    "CommitDialog",
    "Dialog",
    "HelpScreen",
    "PullDialog",
    "PushDialog",
    "RemoveDialog",
    "TagDialog",
    "check_new_tag",
    "check_reference",
    "cleanup_preview",
    "parse_build_args",
    "plan_removal",
]

ResultT = TypeVar("ResultT")


def plain(text: str) -> Text:
    """Names and daemon messages are data, never markup: `[` in a log line must print as is."""
    return Text(text)


# --------------------------------------------------------------------------- validation


def check_reference(text: str) -> str:
    """Docker's complaint about `text` as an image reference, or "" when docker would take it."""
    if not text:
        return "type a reference like name:tag"
    try:
        reference.parse_docker_ref(text)
    except InvalidReference as e:
        return str(e)
    return ""


def check_new_tag(text: str) -> str:
    """As check_reference, plus docker tag's own refusal of digests."""
    problem = check_reference(text)
    if problem:
        return problem
    if reference.parse_docker_ref(text).digest:
        return f"refusing to create a tag with a digest reference: {text}"
    return ""


# --------------------------------------------------------------------------- the frame


class Dialog(ModalScreen[ResultT]):
    """The shared frame: a title, the body, one message line for outcomes and errors, buttons."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
        background: $background 60%;
    }
    Dialog > #dialog {
        width: 96;
        max-width: 96%;
        height: auto;
        max-height: 94%;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
        overflow-y: auto;
    }
    Dialog #dialog-footer {
        dock: bottom;
        height: auto;
    }
    Dialog #dialog-title {
        width: 1fr;
        text-style: bold;
        color: $primary;
        margin-bottom: 1;
    }
    Dialog .hint {
        color: $text-muted;
        height: auto;
    }
    Dialog .field-label {
        margin-top: 1;
    }
    Dialog .field-error {
        height: auto;
        min-height: 1;
        color: $text-muted;
    }
    Dialog .field-error.-error {
        color: $text-error;
    }
    Dialog #dialog-message {
        height: auto;
        margin-top: 1;
    }
    Dialog #dialog-message.-error {
        color: $text-error;
        text-style: bold;
    }
    Dialog #dialog-message.-ok {
        color: $text-success;
    }
    Dialog #dialog-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    Dialog #dialog-buttons Button {
        margin-left: 2;
    }
    Dialog RichLog {
        height: auto;
        max-height: 12;
        min-height: 3;
        border: round $border-blurred;
        background: $surface;
    }
    """

    BINDINGS = [Binding("escape", "close", "Close")]
    # Workers whose failure only loses a nicety: no error line, no notification.
    QUIET_GROUPS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.error = ""  # the last error shown; tests and the caller read it
        self.message = ""  # the last outcome shown

    # ---------------------------------------------------------------- layout

    def heading(self) -> str:
        return ""

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose_buttons(self) -> ComposeResult:
        yield Button("Cancel", id="cancel")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.heading()), id="dialog-title")
            yield from self.compose_body()
            # Docked, so the outcome and the buttons stay in view however long the body gets.
            with Vertical(id="dialog-footer"):
                yield Static("", id="dialog-message")
                with Horizontal(id="dialog-buttons"):
                    yield from self.compose_buttons()

    # ---------------------------------------------------------------- outcomes

    def show_message(self, text: str, *, kind: str = "") -> None:
        """Put one outcome line under the body; kind "error" or "ok" colours it."""
        self.message = text
        widget = self.query_one("#dialog-message", Static)
        widget.update(plain(text))
        widget.set_class(kind == "error", "-error")
        widget.set_class(kind == "ok", "-ok")

    def show_error(self, error: BaseException | str) -> None:
        """The backend's one line, in the dialog and as a notification."""
        if isinstance(error, BackendError | str):
            text = str(error) or type(error).__name__
        else:  # a bug rather than a backend answer: name it so it can be reported
            text = f"{type(error).__name__}: {error}"
        self.error = text
        self.show_message(text, kind="error")
        severity = "warning" if isinstance(error, Unsupported) else "error"
        self.notify(text, severity=severity, timeout=8)

    def finish_buttons(self) -> None:
        """After the work is done only Close remains, focused so Enter closes."""
        for button in self.query("#dialog-buttons Button"):
            if button.id != "cancel":
                button.display = False
        close = self.query_one("#cancel", Button)
        close.label = "Close"
        close.focus()

    # ---------------------------------------------------------------- workers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not self.is_attached:
            return
        if event.state is WorkerState.ERROR:
            assert event.worker.error is not None
            if event.worker.group not in self.QUIET_GROUPS:
                self.show_error(event.worker.error)
            self.worker_failed(event.worker)
        elif event.state is WorkerState.SUCCESS:
            self.worker_succeeded(event.worker)
        elif event.state is WorkerState.CANCELLED:
            self.worker_cancelled(event.worker)

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        """Hook: a worker of this dialog returned; `worker.group` says which."""

    def worker_failed(self, worker: Worker[Any]) -> None:
        """Hook: the error is already shown; put the form back so the user can retry."""

    def worker_cancelled(self, worker: Worker[Any]) -> None:
        """Hook: a worker was cancelled."""

    # ---------------------------------------------------------------- closing

    def close_result(self) -> ResultT | None:
        """What escape and Close hand back."""
        return None

    def action_close(self) -> None:
        self.dismiss(self.close_result())  # type: ignore[arg-type]

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()


# --------------------------------------------------------------------------- tag


class TagDialog(Dialog[str | None]):
    """`docker tag`: a new name checked as you type; moving a name another image has is said."""

    QUIET_GROUPS = frozenset({"owners"})  # without the listing only the move warning is lost

    def __init__(self, backend: Backend, image: ImageSummary, ref: str) -> None:
        super().__init__(backend)
        self.image = image
        self.ref = ref
        self._owners: dict[str, str] = {}  # familiar tag -> image id, to warn about moves
        self.new_name = ""  # what was sent to backend.tag

    def heading(self) -> str:
        return f"Tag {self.ref}"

    def compose_body(self) -> ComposeResult:
        tags = ", ".join(self.image.repo_tags) or "<none>"
        yield Static(
            plain(f"Image {self.image.short_id} · {fmt.human_size(self.image.size)} · {tags}"),
            classes="hint",
        )
        yield Label("New name: [REGISTRY/]REPOSITORY[:TAG]", classes="field-label")
        start = self.ref if self.ref in self.image.repo_tags else ""
        yield Input(start, placeholder="registry.example.com/team/app:1.0", id="ref")
        yield Static("", id="ref-error", classes="field-error")

    def compose_buttons(self) -> ComposeResult:
        yield Button("Tag", variant="primary", id="ok", disabled=True)
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#ref", Input).focus()
        self.validate(self.query_one("#ref", Input).value)
        self.load_owners()

    @work(thread=True, exclusive=True, group="owners", exit_on_error=False)
    def load_owners(self) -> dict[str, str]:
        return {t: i.id for i in self.backend.images() for t in i.repo_tags}

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        if worker.group == "owners":
            self._owners = worker.result or {}
            self.validate(self.query_one("#ref", Input).value)
        elif worker.group == "tag":
            new = reference.familiar(self.new_name)
            self.notify(f"Tagged {self.ref} as {new}")
            self.dismiss(new)

    def worker_failed(self, worker: Worker[Any]) -> None:
        if worker.group == "owners":
            return
        self.query_one("#ref", Input).disabled = False
        self.validate(self.query_one("#ref", Input).value)

    @on(Input.Changed, "#ref")
    def ref_changed(self, event: Input.Changed) -> None:
        self.validate(event.value)

    def validate(self, text: str) -> bool:
        """Show docker's message under the input; OK only for a name docker accepts."""
        problem = check_new_tag(text)
        note = self.query_one("#ref-error", Static)
        if problem:
            note.update(plain(problem if text else "type the new name"))
        else:
            r = reference.parse_docker_ref(text)
            owner = self._owners.get(r.familiar())
            hint = f"→ {r}"
            if owner and owner != self.image.id:
                hint += f" · now on {short_id(owner)}: tagging moves the name to this image"
            elif owner == self.image.id:
                hint += " · this image already has that name"
            note.update(plain(hint))
        note.set_class(bool(problem) and bool(text), "-error")
        self.query_one("#ok", Button).disabled = bool(problem)
        return not problem

    @on(Input.Submitted, "#ref")
    @on(Button.Pressed, "#ok")
    def tag_pressed(self) -> None:
        text = self.query_one("#ref", Input).value
        if not self.validate(text):
            return
        self.query_one("#ok", Button).disabled = True
        self.query_one("#ref", Input).disabled = True
        self.new_name = text
        self.do_tag(text)

    @work(thread=True, exclusive=True, group="tag", exit_on_error=False)
    def do_tag(self, new: str) -> None:
        self.backend.tag(self.ref, new)


# --------------------------------------------------------------------------- remove


@dataclass(frozen=True, slots=True)
class RemovalItem:
    """What removing one target does, as docker rmi would do it."""

    target: str
    image: ImageSummary | None  # None: docker would say "No such image"
    untags: tuple[str, ...] = ()
    deletes: bool = False  # the image itself goes (its last tag, or the id was named)
    needs_force: bool = False  # docker refuses without -f (in use, or an id with several tags)
    unique: int | None = None  # bytes only this image holds; None when not known

    @property
    def in_use(self) -> int:
        return (self.image.containers or 0) if self.image is not None else 0


def _resolve(target: str, images: Sequence[ImageSummary]) -> tuple[ImageSummary | None, bool]:
    """The image `target` names and whether it was named by id; names first, as docker does."""
    for image in images:
        if target in image.repo_tags:
            return image, False
    try:
        fam = reference.familiar(target)
    except (InvalidReference, ValueError):
        fam = ""
    for image in images:
        if fam and fam in image.repo_tags:
            return image, False
    if reference.is_image_id(target):
        hexpart = target.removeprefix("sha256:")
        found = [i for i in images if i.id.removeprefix("sha256:").startswith(hexpart)]
        if len(found) == 1:
            return found[0], True
    return None, False


def plan_removal(
    images: Sequence[ImageSummary],
    targets: Sequence[str],
    unique: Mapping[str, int] | None = None,
) -> list[RemovalItem]:
    """Each target with the tags it removes and whether its image goes; nothing is deleted.

    `unique` maps image ids to their unique bytes (from disk_usage) when the listing lacks them.
    """

    def unique_of(image: ImageSummary) -> int | None:
        if unique is not None and image.id in unique:
            return max(0, unique[image.id])
        if image.shared_size is not None:
            return max(0, image.size - image.shared_size)
        return None

    resolved = [(t, *_resolve(t, images)) for t in dict.fromkeys(targets)]
    by_id = {image.id for _, image, is_id in resolved if image is not None and is_id}
    # Every tag of an image that is named by its id goes with it: don't list them twice.
    resolved = [
        (t, image, is_id)
        for t, image, is_id in resolved
        if image is None or is_id or image.id not in by_id
    ]
    left: dict[str, set[str]] = {}  # tags each image keeps as the targets are removed in order
    items = []
    for target, image, is_id in resolved:
        if image is None:
            items.append(RemovalItem(target, None))
            continue
        if is_id:
            if image.id not in left:
                left[image.id] = set()
                items.append(
                    RemovalItem(
                        target,
                        image,
                        tuple(image.repo_tags),
                        deletes=True,
                        needs_force=len(image.repo_tags) > 1 or bool(image.containers),
                        unique=unique_of(image),
                    )
                )
            continue
        tags = left.setdefault(image.id, set(image.repo_tags))
        tag = target if target in image.repo_tags else reference.familiar(target)
        tags.discard(tag)
        items.append(
            RemovalItem(
                target,
                image,
                (tag,),
                deletes=not tags,
                needs_force=not tags and bool(image.containers),
                unique=unique_of(image),
            )
        )
    return items


def _unique(image: ImageSummary) -> int:
    return image.size - (image.shared_size or 0)


def describe_removal(item: RemovalItem) -> str:
    """One line saying exactly what removing this target does."""
    if item.image is None:
        return f"{item.target}: No such image"
    image = item.image
    size = fmt.human_size(image.size)
    if item.unique is not None:
        size += f", {fmt.human_size(item.unique)} unique"
    gone = f"deletes image {image.short_id} ({size})"
    if item.deletes and item.untags == (item.target,):
        text = f"{item.target}: its last tag, so it also {gone}"
    elif item.deletes:
        text = f"{item.target}: {gone}"
        if item.untags:
            text += f" and untags {', '.join(item.untags)}"
    else:
        keeps = [t for t in image.repo_tags if t not in item.untags]
        text = f"{item.target}: untag only; image {image.short_id} stays"
        if keeps:
            text += f" as {', '.join(keeps[:3])}" + (" …" if len(keeps) > 3 else "")
    if item.in_use:
        text += f" · in use by {item.in_use} container{'s' if item.in_use > 1 else ''}"
    return text


class _Removed(Message):
    """One target's outcome, from the removal worker."""

    def __init__(self, target: str, result: RemoveResult | None, error: str) -> None:
        super().__init__()
        self.target = target
        self.result = result
        self.error = error


class RemoveDialog(Dialog[bool]):
    """`docker rmi` for one row or every marked row, with one confirmation that lists what goes."""

    DEFAULT_CSS = """
    RemoveDialog #plan {
        height: auto;
        max-height: 14;
        border: round $border-blurred;
        padding: 0 1;
    }
    RemoveDialog #force-box {
        height: auto;
        margin-top: 1;
        display: none;
    }
    RemoveDialog #force-box.-shown {
        display: block;
    }
    """

    FORCE_LABEL = "Force (docker rmi -f)"
    FORCE_HINT = (
        "Removes images that containers use, and an id with several tags; "
        "an image a running container uses is only untagged."
    )

    def __init__(self, backend: Backend, targets: Sequence[str]) -> None:
        super().__init__(backend)
        self.targets = list(dict.fromkeys(targets))
        self.plan: list[RemovalItem] = []
        self.results: list[tuple[str, RemoveResult | None, str]] = []

    def heading(self) -> str:
        n = len(self.targets)
        return f"Remove {self.targets[0]}?" if n == 1 else f"Remove {n} images?"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="plan"):
            yield Static("Working out what goes…", id="plan-lines")
        yield Static("", id="plan-total", classes="hint")
        with Vertical(id="force-box"):
            yield Checkbox(self.FORCE_LABEL, id="force")
            yield Static(self.FORCE_HINT, classes="hint")
        log = RichLog(id="results", wrap=True, max_lines=2000)
        log.display = False
        yield log

    def compose_buttons(self) -> ComposeResult:
        yield Button("Remove", variant="error", id="ok", disabled=True)
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self.load_plan()

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def load_plan(self) -> list[RemovalItem]:
        images = self.backend.images()
        unique = None
        if any(i.shared_size is None for i in images):
            try:  # the listing left shared bytes out; disk usage knows them
                unique = {u.id: u.unique_size for u in self.backend.disk_usage().images}
            except BackendError:
                unique = None
        return plan_removal(images, self.targets, unique)

    def show_plan(self, plan: list[RemovalItem]) -> None:
        self.plan = plan
        self.query_one("#plan-lines", Static).update(
            plain("\n".join(describe_removal(i) for i in plan))
        )
        found = [i for i in plan if i.image is not None]
        untags = sum(len(i.untags) for i in found)
        deleted = {i.image.id: i for i in found if i.deletes and i.image is not None}
        parts = [f"untags {untags} name{'s' if untags != 1 else ''}"]
        if deleted:
            text = f"deletes {len(deleted)} image{'s' if len(deleted) != 1 else ''}"
            if all(i.unique is not None for i in deleted.values()):
                frees = sum(i.unique or 0 for i in deleted.values())
                text += f" (frees about {fmt.human_size(frees)})"
            parts.append(text)
        self.query_one("#plan-total", Static).update(plain("This " + ", ".join(parts) + "."))
        needed = any(i.needs_force or i.in_use for i in found)
        self.query_one("#force-box").set_class(needed, "-shown")
        ok = self.query_one("#ok", Button)
        ok.disabled = not found
        # Focus stays on Cancel: a destructive confirm is never one stray Enter away.
        if not found:
            self.show_message("Nothing here exists any more.", kind="error")

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        if worker.group == "plan":
            self.show_plan(worker.result or [])
        elif worker.group == "remove":
            done = sum(1 for _, r, _ in self.results if r is not None)
            failed = len(self.results) - done
            text = f"Removed {done} of {len(self.results)}."
            if failed:
                text += f" {failed} failed: see above."
            self.show_message(text, kind="error" if failed else "ok")
            if done:
                self.notify(f"Removed {done} image reference{'s' if done != 1 else ''}")
            self.finish_buttons()

    def worker_failed(self, worker: Worker[Any]) -> None:
        if worker.group == "plan":
            self.query_one("#plan-lines", Static).update("")

    @on(Button.Pressed, "#ok")
    def remove_pressed(self) -> None:
        force = self.query_one("#force", Checkbox)
        self.query_one("#ok", Button).disabled = True
        force.disabled = True
        log = self.query_one("#results", RichLog)
        log.display = True
        self.show_message("Removing…")
        targets = [i.target for i in self.plan if i.image is not None]
        self.remove_all(targets, force.value)

    @work(thread=True, exclusive=True, group="remove", exit_on_error=False)
    def remove_all(self, targets: list[str], force: bool) -> None:
        worker = get_current_worker()
        for target in targets:
            if worker.is_cancelled:
                return
            try:
                result = self.backend.remove(target, force=force)
            except BackendError as e:
                self.post_message(_Removed(target, None, str(e)))
            else:
                self.post_message(_Removed(target, result, ""))

    @on(_Removed)
    def show_removed(self, event: _Removed) -> None:
        self.results.append((event.target, event.result, event.error))
        log = self.query_one("#results", RichLog)
        if event.result is not None:
            lines = event.result.lines or (
                *(f"Untagged: {u}" for u in event.result.untagged),
                *(f"Deleted: {d}" for d in event.result.deleted),
            )
            for line in lines:
                log.write(plain(line))
        else:
            log.write(Text(f"Error: {event.error}", style="bold"))
            self.notify(event.error, severity="error", timeout=8)

    def close_result(self) -> bool:
        return any(r is not None for _, r, _ in self.results)


# --------------------------------------------------------------------------- streams


class _Inbox:
    """Events a worker thread hands to the event loop, taken in batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[ProgressEvent] = []

    def put(self, item: ProgressEvent) -> bool:
        """Queue `item`; True when the loop must be woken (the inbox was empty)."""
        with self._lock:
            self._items.append(item)
            return len(self._items) == 1

    def take(self) -> list[ProgressEvent]:
        with self._lock:
            items, self._items = self._items, []
            return items


class _Arrived(Message):
    """Wake-up: the inbox has events. Pending ones merge, the inbox holds the data."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, _Arrived)


class _StreamDialog(Dialog[bool]):
    """Runs one backend stream at a time; escape while it runs cancels, escape after closes."""

    VERB: ClassVar[str] = ""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self._inbox = _Inbox()
        self._worker: Worker[None] | None = None
        self.running = False
        self.cancelled = False
        self.succeeded = False
        self.stream_closed = threading.Event()  # set when the worker thread let go of the stream

    def start_stream(self, start: Callable[[], Iterable[ProgressEvent]]) -> None:
        self.running = True
        self.cancelled = False
        self.stream_closed.clear()
        self._inbox.take()
        self._worker = self.stream(start)
        self.set_running(True)

    @work(thread=True, exclusive=True, group="stream", exit_on_error=False)
    def stream(self, start: Callable[[], Iterable[ProgressEvent]]) -> None:
        worker = get_current_worker()
        try:
            events = iter(start())
            try:
                for event in events:
                    if worker.is_cancelled:
                        break  # stop consuming; closing the stream below tells the daemon
                    if self._inbox.put(event):
                        self.post_message(_Arrived())
            finally:
                close = getattr(events, "close", None)
                if callable(close):
                    close()
        finally:
            self.stream_closed.set()

    @on(_Arrived)
    def drain(self) -> None:
        events = self._inbox.take()
        if events and not self.cancelled:
            self.show_events(events)

    def show_events(self, events: list[ProgressEvent]) -> None:
        """Hook: draw a batch of events."""

    def set_running(self, running: bool) -> None:
        """Hook: lock or unlock the form."""
        self.query_one("#cancel", Button).label = "Stop" if running else "Cancel"

    def stream_done(self) -> None:
        """Hook: the stream ended normally."""

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        if worker.group != "stream" or worker is not self._worker:
            return
        self.drain()
        self.running = False
        self.succeeded = True
        self.set_running(False)
        self.stream_done()
        self.finish_buttons()

    def worker_failed(self, worker: Worker[Any]) -> None:
        if worker.group != "stream" or worker is not self._worker:
            return
        self.drain()
        self.running = False
        self.set_running(False)

    def cancel_stream(self) -> None:
        """Stop reading the stream; the thread closes it as soon as it holds the next event."""
        if self._worker is not None:
            self._worker.cancel()
        self.cancelled = True
        self.running = False
        self._inbox.take()
        self.set_running(False)
        self.show_message(f"{self.VERB} cancelled.", kind="error")
        self.notify(f"{self.VERB} cancelled", severity="warning")

    def action_close(self) -> None:
        if self.running:
            self.cancel_stream()
            return
        super().action_close()

    def close_result(self) -> bool:
        return self.succeeded


DONE_STATUSES = ("Pull complete", "Already exists", "Pushed", "Layer already exists")


class LayerRow(Horizontal):
    """One layer: its short id, a progress bar and docker's status text."""

    DEFAULT_CSS = """
    LayerRow {
        height: 1;
    }
    LayerRow > .layer-id {
        width: 14;
    }
    LayerRow > ProgressBar {
        width: auto;
        margin-right: 1;
    }
    LayerRow > .layer-status {
        width: 1fr;
        color: $text-muted;
    }
    """

    def __init__(self, layer: str) -> None:
        super().__init__(classes="layer-row")
        self.layer_id = layer
        self.last: LayerProgress | None = None
        self.current = 0
        self.total: int | None = None
        self.text = ""
        self._ready = False  # children exist (is_mounted turns true only after on_mount)

    def compose(self) -> ComposeResult:
        yield Label(plain(self.layer_id), classes="layer-id")
        yield ProgressBar(total=100, show_eta=False)
        yield Label("", classes="layer-status")

    def on_mount(self) -> None:
        self._ready = True
        self._draw()

    def show(self, event: LayerProgress) -> None:
        """Fold `event` into the row; events that arrive before it is mounted still count."""
        self.last = event
        self.text = event.status
        if event.total:
            self.total = event.total
            self.current = min(event.current or 0, event.total)
            self.text += f" {fmt.human_size(self.current)}/{fmt.human_size(event.total)}"
            if event.rate is not None and self.current < event.total:
                self.text += f" · {fmt.human_rate(event.rate)}"
        elif event.status in DONE_STATUSES or event.status.startswith("Mounted from"):
            self.total = self.total or 1
            self.current = self.total
        if self._ready:
            self._draw()

    def _draw(self) -> None:
        self.query_one(ProgressBar).update(total=self.total or 100, progress=self.current)
        self.query_one(".layer-status", Label).update(plain(self.text))


class _TransferDialog(_StreamDialog):
    """Pull and push: a reference checked as you type, a bar per layer, the status lines."""

    DEFAULT_CSS = """
    _TransferDialog #layers {
        height: auto;
        max-height: 12;
    }
    """

    def __init__(self, backend: Backend, initial: str = "") -> None:
        super().__init__(backend)
        self.initial = initial
        self.ref = ""
        self.layer_states: dict[str, LayerProgress] = {}  # last state per layer
        self.status_lines: list[str] = []
        self._layer_rows: dict[str, LayerRow] = {}

    def heading(self) -> str:
        return f"{self.VERB} an image"

    def compose_body(self) -> ComposeResult:
        yield Label("Reference: NAME[:TAG|@DIGEST]", classes="field-label")
        yield Input(self.initial, placeholder="registry.example.com/team/app:1.0", id="ref")
        yield Static("", id="ref-error", classes="field-error")
        yield VerticalScroll(id="layers")
        log = RichLog(id="status-lines", wrap=True, max_lines=500)
        log.display = False
        yield log

    def compose_buttons(self) -> ComposeResult:
        yield Button(self.VERB, variant="primary", id="ok", disabled=True)
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#ref", Input).focus()
        self.validate(self.query_one("#ref", Input).value)

    def explain(self, text: str) -> str:
        """The line under a valid reference: where it goes."""
        return f"→ {reference.parse_docker_ref(text)}"

    def validate(self, text: str) -> bool:
        problem = check_reference(text)
        note = self.query_one("#ref-error", Static)
        note.update(plain(problem if problem and text else self.explain(text) if text else ""))
        note.set_class(bool(problem) and bool(text), "-error")
        self.query_one("#ok", Button).disabled = bool(problem) or self.running or self.succeeded
        return not problem

    @on(Input.Changed, "#ref")
    def ref_changed(self, event: Input.Changed) -> None:
        self.validate(event.value)

    @on(Input.Submitted, "#ref")
    @on(Button.Pressed, "#ok")
    def start_pressed(self) -> None:
        text = self.query_one("#ref", Input).value
        if self.running or self.succeeded or not self.validate(text):
            return
        self.ref = text
        self.layer_states.clear()
        self.status_lines.clear()
        self.query_one("#layers").remove_children()
        self._layer_rows.clear()
        self.query_one("#status-lines", RichLog).clear()
        self.show_message(f"{self.VERB}ing {text}…")
        self.start_stream(lambda: self.open_stream(text))

    def open_stream(self, ref: str) -> Iterable[ProgressEvent]:
        raise NotImplementedError

    def set_running(self, running: bool) -> None:
        super().set_running(running)
        locked = running or self.succeeded  # done: the result stays on screen, Close remains
        self.query_one("#ref", Input).disabled = locked
        self.query_one("#ok", Button).disabled = locked

    def show_events(self, events: list[ProgressEvent]) -> None:
        layers = self.query_one("#layers", VerticalScroll)
        log = self.query_one("#status-lines", RichLog)
        for event in events:
            if isinstance(event, LayerProgress):
                row = self._layer_rows.get(event.layer)
                if row is None:
                    row = self._layer_rows[event.layer] = LayerRow(event.layer)
                    layers.mount(row)
                row.show(event)
                self.layer_states[event.layer] = event
            elif isinstance(event, StatusLine | BuildLog):
                text = event.text.rstrip("\n")
                self.status_lines.append(text)
                log.display = True
                log.write(plain(text))
            elif isinstance(event, BytesProgress):
                continue

    def stream_done(self) -> None:
        last = next((s for s in reversed(self.status_lines) if s.startswith("Status:")), "")
        text = f"{self.VERB}ed {self.ref}" + (f" · {last}" if last else "")
        self.show_message(text, kind="ok")
        self.notify(text)

    def worker_failed(self, worker: Worker[Any]) -> None:
        super().worker_failed(worker)
        self.validate(self.query_one("#ref", Input).value)


class PullDialog(_TransferDialog):
    """`docker pull` with a progress bar per layer."""

    VERB = "Pull"

    def __init__(self, backend: Backend, initial: str = "") -> None:
        super().__init__(backend, initial)

    def open_stream(self, ref: str) -> Iterable[ProgressEvent]:
        return self.backend.pull(ref)


class PushDialog(_TransferDialog):
    """`docker push` of one name, with a progress bar per layer."""

    VERB = "Push"

    def __init__(self, backend: Backend, ref: str) -> None:
        super().__init__(backend, ref)

    def explain(self, text: str) -> str:
        r = reference.parse_docker_ref(text)
        where = r.domain or reference.DEFAULT_DOMAIN
        return f"→ uploads to {where} as {r}; a tag of that name there is replaced"

    def open_stream(self, ref: str) -> Iterable[ProgressEvent]:
        return self.backend.push(ref)


# --------------------------------------------------------------------------- build

_ARG_SPLIT = re.compile(r"[,\n]\s*(?=[A-Za-z_][A-Za-z0-9_]*=)|\n")


def parse_build_args(text: str) -> dict[str, str]:
    """K=V pairs, one per line or comma separated; a bare K takes its value from the environment.

    A comma only separates when a `NAME=` follows, so values may hold commas ("A=1,2").
    """
    out: dict[str, str] = {}
    for part in _ARG_SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"build arg {part!r}: expected NAME=VALUE")
        if eq:
            out[key] = value
        elif key in os.environ:  # docker build --build-arg NAME does the same
            out[key] = os.environ[key]
    return out


NETWORK_MODES = [
    ("default (docker: bridge; built-in store: none)", "default"),
    ("none: no network for RUN", "none"),
    ("host", "host"),
]


class BuildDialog(_StreamDialog):
    """`docker build`: the form, then the log as it arrives; Stop cancels the build."""

    VERB = "Build"

    DEFAULT_CSS = """
    BuildDialog #build-form {
        height: auto;
    }
    BuildDialog .build-row {
        height: auto;
    }
    BuildDialog .build-row > Label {
        width: 14;
        padding-top: 1;
    }
    BuildDialog .build-row > Input, BuildDialog .build-row > Select {
        width: 1fr;
    }
    BuildDialog #build-args {
        height: 4;
        width: 1fr;
    }
    BuildDialog #build-log {
        height: 14;
        max-height: 14;
    }
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.result: BuildResult | None = None
        self.log_lines: deque[str] = deque(maxlen=5000)

    def heading(self) -> str:
        return "Build an image"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="build-form"):
            with Horizontal(classes="build-row"):
                yield Label("Context")
                yield Input(str(Path.cwd()), placeholder="directory", id="build-context")
            with Horizontal(classes="build-row"):
                yield Label("Dockerfile")
                yield Input(placeholder="Dockerfile in the context (optional)", id="build-file")
            with Horizontal(classes="build-row"):
                yield Label("Tag")
                yield Input(placeholder="name:tag (optional)", id="ref")
            yield Static("", id="ref-error", classes="field-error")
            with Horizontal(classes="build-row"):
                yield Label("Build args")
                yield TextArea(id="build-args", soft_wrap=True)
            yield Static("NAME=VALUE, one per line or comma separated", classes="hint")
            with Horizontal(classes="build-row"):
                yield Label("Network")
                yield Select(NETWORK_MODES, value="default", allow_blank=False, id="build-network")
            yield Checkbox("No cache (--no-cache)", id="build-no-cache")
        yield RichLog(id="build-log", wrap=True, max_lines=5000)

    def compose_buttons(self) -> ComposeResult:
        yield Button("Build", variant="primary", id="ok")
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#build-context", Input).focus()

    @on(Input.Changed, "#ref")
    def tag_changed(self, event: Input.Changed) -> None:
        self.validate_tag(event.value)

    def validate_tag(self, text: str) -> bool:
        problem = check_new_tag(text) if text else ""
        note = self.query_one("#ref-error", Static)
        note.update(plain(problem or (f"→ {reference.parse_docker_ref(text)}" if text else "")))
        note.set_class(bool(problem), "-error")
        self.query_one("#ok", Button).disabled = bool(problem) or self.running or self.succeeded
        return not problem

    def options(self) -> BuildOptions:
        """The form as BuildOptions; ValueError says which field is wrong."""
        context = self.query_one("#build-context", Input).value.strip()
        if not context:
            raise ValueError("the context directory is required")
        dockerfile = self.query_one("#build-file", Input).value.strip() or None
        tag = self.query_one("#ref", Input).value
        if not self.validate_tag(tag):
            raise ValueError(check_new_tag(tag))
        network = self.query_one("#build-network", Select).value
        return BuildOptions(
            context=Path(context).expanduser(),
            dockerfile=dockerfile,
            tags=(tag,) if tag else (),
            build_args=parse_build_args(self.query_one("#build-args", TextArea).text),
            no_cache=self.query_one("#build-no-cache", Checkbox).value,
            network_mode=None if network in ("default", Select.NULL) else str(network),
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def build_pressed(self, event: Message) -> None:
        event.stop()
        if self.running or self.succeeded:
            return
        try:
            options = self.options()
        except ValueError as e:
            self.show_error(str(e))
            return
        self.result = None
        self.log_lines.clear()
        self.query_one("#build-log", RichLog).clear()
        self.show_message(f"Building {options.context}…")
        self._cancel = threading.Event()
        self.start_stream(lambda: self._open_build(options))

    def _open_build(self, options: BuildOptions) -> Iterable[ProgressEvent]:
        """The built-in store takes a cancel event: a silent RUN stops at once, not at its
        next line of output (closing the stream is all a daemon build needs)."""
        import inspect

        if "cancel" in inspect.signature(self.backend.build).parameters:
            return self.backend.build(options, cancel=self._cancel)  # type: ignore[call-arg]
        return self.backend.build(options)

    def set_running(self, running: bool) -> None:
        super().set_running(running)
        locked = running or self.succeeded  # done: the log stays on screen, Close remains
        for widget in self.query("#build-form Input, #build-form TextArea, #build-form Select"):
            widget.disabled = locked
        self.query_one("#build-no-cache", Checkbox).disabled = locked
        self.query_one("#ok", Button).disabled = locked

    def show_events(self, events: list[ProgressEvent]) -> None:
        log = self.query_one("#build-log", RichLog)
        chunk: list[str] = []  # consecutive output goes to the log in one write

        def flush() -> None:
            if chunk:
                log.write(plain("\n".join(chunk)))
                chunk.clear()

        for event in events:
            if isinstance(event, BuildStep):
                flush()
                line = f"Step {event.index}/{event.total} : {event.instruction}"
                self.log_lines.append(line)
                log.write(Text(line, style="bold"))
            elif isinstance(event, BuildLog | StatusLine):
                lines = event.text.rstrip("\n").splitlines() or [""]
                self.log_lines.extend(lines)
                chunk.extend(lines)
            elif isinstance(event, BuildResult):
                self.result = event
                lines = [f"Successfully built {short_id(event.image_id)}"]
                lines += [f"Successfully tagged {t}" for t in event.tags]
                self.log_lines.extend(lines)
                chunk.extend(lines)
            elif isinstance(event, LayerProgress):
                line = f"{event.layer}: {event.status}"
                self.log_lines.append(line)
                chunk.append(line)
        flush()

    def stream_done(self) -> None:
        if self.result is not None:
            names = ", ".join(self.result.tags) or short_id(self.result.image_id)
            text = f"Built {names}"
        else:
            text = "Build finished"
        self.show_message(text, kind="ok")
        self.notify(text)

    def cancel_stream(self) -> None:
        cancel = getattr(self, "_cancel", None)
        if cancel is not None:
            cancel.set()
        super().cancel_stream()
        self.query_one("#build-log", RichLog).write(Text("Cancelled", style="bold"))
        self.log_lines.append("Cancelled")


# --------------------------------------------------------------------------- commit


class CommitDialog(Dialog[str | None]):
    """`docker commit`: pick a container, name the new image; dismisses with the new image id."""

    DEFAULT_CSS = """
    CommitDialog #containers {
        height: auto;
        max-height: 10;
    }
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.containers: list[ContainerSummary] = []

    def heading(self) -> str:
        return "Commit a container to a new image"

    def compose_body(self) -> ComposeResult:
        yield Label("Container", classes="field-label")
        yield OptionList(id="containers")
        yield Label("Repository[:tag] (empty: an untagged image)", classes="field-label")
        yield Input(placeholder="app:snapshot", id="ref")
        yield Static("", id="ref-error", classes="field-error")
        yield Label("Message", classes="field-label")
        yield Input(placeholder="what changed (optional)", id="commit-message")
        yield Static(
            "A running container is paused while it is committed, as docker commit does.",
            classes="hint",
        )

    def compose_buttons(self) -> ComposeResult:
        yield Button("Commit", variant="primary", id="ok", disabled=True)
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#containers", OptionList).focus()
        self.load_containers()

    @work(thread=True, exclusive=True, group="containers", exit_on_error=False)
    def load_containers(self) -> list[ContainerSummary]:
        return self.backend.containers(all=True)

    def show_containers(self, containers: list[ContainerSummary]) -> None:
        self.containers = containers
        options = self.query_one("#containers", OptionList)
        options.clear_options()
        for c in containers:
            image = fmt.truncate_id(c.image) if c.image.startswith("sha256:") else c.image
            label = (
                f"{fmt.ellipsis(c.name, 20):<20} {fmt.ellipsis(image, 30):<30} "
                f"{fmt.ellipsis(c.status, 24):<24} {c.id[:12]}"
            )
            options.add_option(Option(plain(label), id=c.id))
        if containers:
            options.highlighted = 0
        else:
            self.show_message("There are no containers to commit.")
        self.validate()

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        if worker.group == "containers":
            self.show_containers(worker.result or [])
        elif worker.group == "commit":
            image_id = str(worker.result)
            self.notify(f"Committed {self.selected_name()} as {short_id(image_id)}")
            self.dismiss(image_id)

    def worker_failed(self, worker: Worker[Any]) -> None:
        if worker.group == "commit":
            self.set_form(True)

    def selected(self) -> str | None:
        options = self.query_one("#containers", OptionList)
        option = options.highlighted_option
        return option.id if option is not None else None

    def selected_name(self) -> str:
        cid = self.selected()
        return next((c.name for c in self.containers if c.id == cid), cid or "")

    def validate(self) -> bool:
        text = self.query_one("#ref", Input).value
        problem = check_new_tag(text) if text else ""
        note = self.query_one("#ref-error", Static)
        note.update(plain(problem or (f"→ {reference.parse_docker_ref(text)}" if text else "")))
        note.set_class(bool(problem), "-error")
        ok = not problem and self.selected() is not None
        self.query_one("#ok", Button).disabled = not ok
        return ok

    @on(Input.Changed, "#ref")
    @on(OptionList.OptionHighlighted)
    def form_changed(self) -> None:
        self.validate()

    def set_form(self, enabled: bool) -> None:
        for widget in self.query("#containers, #ref, #commit-message"):
            widget.disabled = not enabled
        self.query_one("#ok", Button).disabled = not enabled
        if enabled:
            self.validate()

    @on(OptionList.OptionSelected)
    def container_chosen(self) -> None:
        self.query_one("#ref", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def commit_pressed(self, event: Message) -> None:
        event.stop()
        if not self.validate():
            return
        container = self.selected()
        assert container is not None
        ref = self.query_one("#ref", Input).value or None
        message = self.query_one("#commit-message", Input).value
        self.set_form(False)
        self.show_message(f"Committing {self.selected_name()}…")
        self.do_commit(container, ref, message)

    @work(thread=True, exclusive=True, group="commit", exit_on_error=False)
    def do_commit(self, container: str, ref: str | None, message: str) -> str:
        return self.backend.commit(container, ref, message=message)


# --------------------------------------------------------------------------- clean-up

CLEANUP_KINDS: dict[str, tuple[str, str]] = {
    "dangling": ("Dangling images: untagged, no container", "docker image prune"),
    "unused": ("Unused images: every image no container uses", "docker image prune -a"),
    "system": (
        "System: stopped containers, dangling images, build cache",
        "docker system prune",
    ),
    "cache": ("Build cache not in use", "docker builder prune"),
}


@dataclass(frozen=True, slots=True)
class CleanupPreview:
    """What a clean-up kind would delete and about how many bytes that frees."""

    kind: str
    rows: tuple[tuple[str, str, str, str], ...]  # what, id, size, frees
    frees: int
    count: int
    summary: str


@dataclass(frozen=True, slots=True)
class CleanupData:
    """Everything the previews are computed from, loaded once."""

    images: tuple[ImageSummary, ...]
    usage: DiskUsage | None
    containers: tuple[ContainerSummary, ...]


def cleanup_preview(kind: str, data: CleanupData) -> CleanupPreview:
    """The rows a clean-up would delete, computed from listings alone: nothing is removed."""
    unique = {i.id: i.unique_size for i in data.usage.images} if data.usage else {}

    def frees(image: ImageSummary) -> int:
        return max(0, unique.get(image.id, _unique(image)))

    def image_row(image: ImageSummary) -> tuple[str, str, str, str]:
        name = ", ".join(image.repo_tags) or "<none>:<none>"
        return (name, image.short_id, fmt.human_size(image.size), fmt.human_size(frees(image)))

    rows: list[tuple[str, str, str, str]] = []
    total = 0
    count = 0
    if kind in ("dangling", "unused"):
        going = [
            i for i in data.images if not i.containers and (kind == "unused" or not i.repo_tags)
        ]
        rows = [image_row(i) for i in going]
        total = sum(frees(i) for i in going)
        count = len(going)
        what = f"{count} image{'s' if count != 1 else ''}"
    elif kind == "system":
        stopped = [c for c in data.containers if not c.running]
        running_users = {c.image_id for c in data.containers if c.running}
        sizes = {c.id: c.size_rw for c in data.usage.containers} if data.usage else {}
        for c in stopped:
            size = sizes.get(c.id, c.size_rw or 0) or 0
            rows.append((f"container {c.name}", c.id[:12], fmt.human_size(size), ""))
            total += size
        going = [i for i in data.images if not i.repo_tags and i.id not in running_users]
        rows += [image_row(i) for i in going]
        total += sum(frees(i) for i in going)
        cache = data.usage.build_cache_reclaimable if data.usage else 0
        if cache:
            rows.append(("build cache not in use", "", fmt.human_size(cache), ""))
        total += cache
        count = len(stopped) + len(going)
        what = (
            f"{len(stopped)} stopped container{'s' if len(stopped) != 1 else ''}, "
            f"{len(going)} dangling image{'s' if len(going) != 1 else ''}, unused networks"
            + (" and build cache" if cache else "")
        )
        count += 1 if cache else 0
    else:
        records = [b for b in data.usage.build_cache if not b.in_use] if data.usage else []
        for b in records:
            what = f"{b.kind} {b.description}".strip()
            rows.append((what, b.id[:12], fmt.human_size(b.size), ""))
        total = data.usage.build_cache_reclaimable if data.usage else 0
        count = len(records)
        what = f"{count} build cache record{'s' if count != 1 else ''}"
    command = CLEANUP_KINDS[kind][1]
    summary = f"{command} would remove {what}, freeing about {fmt.human_size(total)}."
    return CleanupPreview(kind, tuple(rows), total, count, summary)


class CleanupDialog(Dialog[bool]):
    """Clean-up with a preview first: what would go and what it frees, then one confirmation."""

    DEFAULT_CSS = """
    CleanupDialog #cleanup-kind {
        width: 1fr;
        height: auto;
    }
    CleanupDialog #cleanup-preview {
        height: auto;
        max-height: 12;
        margin-top: 1;
    }
    CleanupDialog #cleanup-summary {
        margin-top: 1;
        text-style: bold;
        height: auto;
    }
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.data: CleanupData | None = None
        self.preview: CleanupPreview | None = None
        self.kind = "dangling"
        self.report: PruneReport | None = None

    def heading(self) -> str:
        return "Clean up"

    def compose_body(self) -> ComposeResult:
        with RadioSet(id="cleanup-kind"):
            for kind, (label, command) in CLEANUP_KINDS.items():
                yield RadioButton(
                    f"{label} ({command})", value=kind == "dangling", id=f"kind-{kind}"
                )
        table: DataTable[str] = DataTable(id="cleanup-preview", cursor_type="row")
        yield table
        yield Static("Working out what would go…", id="cleanup-summary")
        log = RichLog(id="cleanup-report", wrap=True, max_lines=2000)
        log.display = False
        yield log

    def compose_buttons(self) -> ComposeResult:
        yield Button("Remove", variant="error", id="ok", disabled=True)
        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cleanup-preview", DataTable).add_columns("WHAT", "ID", "SIZE", "FREES")
        self.query_one("#cleanup-kind", RadioSet).focus()
        self.load_data()

    @work(thread=True, exclusive=True, group="data", exit_on_error=False)
    def load_data(self) -> CleanupData:
        images = self.backend.images()
        try:
            usage: DiskUsage | None = self.backend.disk_usage()
        except BackendError:
            usage = None  # fall back to the listing's own unique sizes
        try:
            containers = self.backend.containers(all=True)
        except BackendError:
            containers = []
        return CleanupData(tuple(images), usage, tuple(containers))

    @on(RadioSet.Changed, "#cleanup-kind")
    def kind_changed(self, event: RadioSet.Changed) -> None:
        if event.pressed.id:
            self.kind = event.pressed.id.removeprefix("kind-")
        self.show_preview()

    def show_preview(self) -> None:
        if self.data is None:
            return
        self.preview = preview = cleanup_preview(self.kind, self.data)
        table = self.query_one("#cleanup-preview", DataTable)
        table.clear()
        for row in preview.rows:
            table.add_row(*(plain(c) for c in row))
        self.query_one("#cleanup-summary", Static).update(plain(preview.summary))
        ok = self.query_one("#ok", Button)
        # System prune also takes networks that cannot be listed here, so it is always offered.
        ok.disabled = preview.count == 0 and self.kind != "system"
        ok.label = "Nothing to remove" if ok.disabled else "Remove"

    def worker_succeeded(self, worker: Worker[Any]) -> None:
        if worker.group == "data":
            self.data = worker.result
            self.show_preview()
        elif worker.group == "prune":
            self.report = report = worker.result
            assert report is not None
            # The preview is history now; the report says what really went.
            self.query_one("#cleanup-preview").display = False
            self.query_one("#cleanup-summary", Static).update(
                plain(f"{CLEANUP_KINDS[self.kind][1]}:")
            )
            log = self.query_one("#cleanup-report", RichLog)
            log.display = True
            for line in render.prune_lines(report):
                log.write(plain(line))
            total = f"Total reclaimed space: {fmt.human_size(report.space_reclaimed, 4)}"
            self.show_message(total if not report.empty else "Nothing was removed.", kind="ok")
            self.notify(total)
            self.finish_buttons()

    def worker_failed(self, worker: Worker[Any]) -> None:
        if worker.group == "prune":
            self.query_one("#cleanup-kind", RadioSet).disabled = False
            self.show_preview()

    @on(Button.Pressed, "#ok")
    def prune_pressed(self) -> None:
        self.query_one("#ok", Button).disabled = True
        self.query_one("#cleanup-kind", RadioSet).disabled = True
        self.show_message(f"Running {CLEANUP_KINDS[self.kind][1]}…")
        self.do_prune(self.kind)

    @work(thread=True, exclusive=True, group="prune", exit_on_error=False)
    def do_prune(self, kind: str) -> PruneReport:
        if kind == "dangling":
            return self.backend.prune_images(all=False)
        if kind == "unused":
            return self.backend.prune_images(all=True)
        if kind == "system":
            return self.backend.system_prune(all=False)
        return self.backend.prune_build_cache(all=False)

    def close_result(self) -> bool:
        return self.report is not None and not self.report.empty


# --------------------------------------------------------------------------- help


class HelpScreen(ModalScreen[None]):
    """Every key and what it does, for people who do not read footers."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
    }
    HelpScreen > #help {
        width: 64;
        max-width: 96%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    HelpScreen #help-title {
        text-style: bold;
        color: $primary;
        margin-bottom: 1;
    }
    HelpScreen #help-keys {
        height: auto;
        max-height: 30;
    }
    HelpScreen .hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, bindings: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(bindings)

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("Keys", id="help-title")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Static(
                "ctrl+p opens the command palette · escape, ? or q closes this", classes="hint"
            )

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.add_columns("KEY", "ACTION")
        for key, action in self.keys:
            table.add_row(plain(key), plain(action))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
