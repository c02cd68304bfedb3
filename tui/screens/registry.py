"""A registry, browsed without pulling: repositories → tags → one image's history and Dockerfile.

Only manifests and configs travel (imgtui.registry.browse), so looking costs kilobytes however
big the image is. Tags the local list also holds are marked: the same digest ("✓"), or another
one ("outdated": the registry moved the tag since it was pulled or pushed). `p` pulls the tag
under the cursor through the usual pull dialog, on whichever backend the app runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from imgtui import reference
from imgtui.backends.base import Backend, BackendError, ImageSummary
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.footer import Footer
from imgtui.widgets.history_view import HistoryView
from imgtui.widgets.image_table import human_size

SAME, OUTDATED, UNKNOWN = "✓", "outdated", "?"


def local_state(images: Sequence[ImageSummary], repository: str, tag: str, digest: str) -> str:
    """How the local image of `repository:tag` stands against the registry's `digest`.

    "" when no local image has that tag; "✓" when it came from (or went to) that very digest;
    "outdated" when it is known to come from another; "?" when nothing says where it came from
    (built here and never pushed).
    """
    try:
        name = reference.familiar(f"{repository}:{tag}")
        repo = reference.parse(repository).familiar()  # no ":latest" added
    except BackendError:
        return ""
    for image in images:
        if name not in image.repo_tags:
            continue
        mine = [d.partition("@")[2] for d in image.repo_digests if d.partition("@")[0] == repo]
        if digest in mine:
            return SAME
        return OUTDATED if mine else UNKNOWN
    return ""


class RegistryScreen(Screen[bool]):
    """Dismissed with True when something was pulled, so the image list reloads."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("p", "pull", "Pull tag"),
        Binding("r", "reload", "Refresh"),
        Binding("h", "focus_host", "Host"),
        Binding("slash", "focus_repo", "Type repo", key_display="/"),
    ]

    DEFAULT_CSS = """
    RegistryScreen {
        background: $background;
        & #reg-main { height: 1fr; }
        & #reg-left { width: 1fr; min-width: 24; border: round $primary 50%; }
        & #reg-left:focus-within { border: round $primary; }
        & #reg-middle { width: 2fr; border: round $primary 50%; }
        & #reg-middle:focus-within { border: round $primary; }
        & #reg-details { width: 2fr; border: round $secondary 50%; }
        & #reg-details:focus-within { border: round $secondary; }
        & Input { height: 1; border: none; padding: 0 1; background: $surface; }
        & Input:focus { background: $boost; }
        & #reg-repos, #reg-tags { height: 1fr; }
        & #reg-status { height: auto; padding: 0 1; color: $text-muted; }
        & #reg-details TabPane { padding: 0; height: 1fr; }
        & #reg-details ContentSwitcher { height: 1fr; }
        & #reg-config { padding: 0 1; }
    }
    """

    class Listed(Message):
        def __init__(self, host: str, repos: Sequence[str] | None, error: str = "") -> None:
            super().__init__()
            self.host, self.repos, self.error = host, repos, error

    class Tagged(Message):
        def __init__(self, repo: str, rows: Sequence[Any] | None, error: str = "") -> None:
            super().__init__()
            self.repo, self.rows, self.error = repo, rows, error

    class Described(Message):
        def __init__(self, ref: str, image: Any | None, dockerfile: str, error: str = "") -> None:
            super().__init__()
            self.ref, self.image, self.dockerfile, self.error = ref, image, dockerfile, error

    DETAILS_DELAY = 0.15  # holding j must not fetch a manifest per tag

    def __init__(
        self, backend: Backend, images: Sequence[ImageSummary] = (), host: str = ""
    ) -> None:
        super().__init__()
        self.backend = backend
        self.images = images
        self.host = host
        self.repo = ""
        self.rows: list[Any] = []
        self.described = ""  # the reference whose details are shown or loading
        self.pulled = False
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="reg-main"):
            with Vertical(id="reg-left"):
                yield Input(
                    value=self.host, placeholder="registry host[:port], enter lists it", id="host"
                )
                table: DataTable[Any] = DataTable(id="reg-repos", cursor_type="row")
                table.add_column("REPOSITORY", key="repo")
                yield table
                yield Input(placeholder="/ repository (when there is no catalog)", id="repo")
            with Vertical(id="reg-middle"):
                yield Static("", id="reg-status")
                tags: DataTable[Any] = DataTable(id="reg-tags", cursor_type="row")
                for label in ("TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED", "LOCAL"):
                    tags.add_column(label, key=label.lower())
                yield tags
            with TabbedContent(id="reg-details"):
                with TabPane("History", id="reg-history-tab"):
                    yield HistoryView(id="reg-history")
                with TabPane("Dockerfile", id="reg-dockerfile-tab"):
                    yield DockerfileView(id="reg-dockerfile")
                with TabPane("Config", id="reg-config-tab"), VerticalScroll():
                    yield Static("", id="reg-config")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "registry browser: nothing is pulled until you press p"
        if self.host:
            self.list_repositories(self.host)
            self.query_one("#reg-repos", DataTable).focus()
        else:
            self.query_one("#host", Input).focus()
            self.say("Type a registry host (e.g. localhost:5000) and press enter.")

    def say(self, text: str) -> None:
        self.query_one("#reg-status", Static).update(text)

    # ------------------------------------------------------------------ host → repositories

    @on(Input.Submitted, "#host")
    def host_given(self, event: Input.Submitted) -> None:
        event.stop()
        host = event.value.strip().removeprefix("https://").removeprefix("http://").strip("/")
        if not host:
            self.say("Type a registry host first.")
            return
        self.host = host
        self.list_repositories(host)
        self.query_one("#reg-repos", DataTable).focus()

    def list_repositories(self, host: str) -> None:
        self.say(f"Asking {host} for its repositories…")
        self.query_one("#reg-repos", DataTable).clear()
        self._list(host)

    @work(thread=True, exclusive=True, group="registry-list", exit_on_error=False)
    def _list(self, host: str) -> None:
        from imgtui.registry import browse

        try:
            repos: Sequence[str] | None = browse.repositories(host).repositories
            error = ""
        except BackendError as e:
            repos, error = None, str(e)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Listed(host, repos, error))

    @on(Listed)
    def show_repositories(self, event: Listed) -> None:
        if event.host != self.host:
            return
        table = self.query_one("#reg-repos", DataTable)
        table.clear()
        if event.repos is None:
            # Docker Hub and many hosted registries keep their catalog closed: say so, and let
            # the user type the repository instead.
            self.say(f"{event.error}\nNo catalog here? Press / and type a repository.")
            return
        for repo in event.repos:
            table.add_row(repo, key=repo)
        self.say(
            f"{event.host}: {len(event.repos)} repositories; enter lists one's tags"
            if event.repos
            else f"{event.host} has no repositories (or hides them): / types one"
        )

    @on(DataTable.RowSelected, "#reg-repos")
    def repo_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.list_tags(str(event.row_key.value))
            self.query_one("#reg-tags", DataTable).focus()

    @on(Input.Submitted, "#repo")
    def repo_typed(self, event: Input.Submitted) -> None:
        event.stop()
        repo = event.value.strip().strip("/")
        if not self.host:
            self.say("Type the registry host first (h).")
            return
        if repo:
            self.list_tags(repo)
            self.query_one("#reg-tags", DataTable).focus()

    # ------------------------------------------------------------------ repository → tags

    def list_tags(self, repo: str) -> None:
        self.repo = repo
        self.rows = []
        self.query_one("#reg-tags", DataTable).clear()
        self.say(f"Reading the tags of {self.host}/{repo}…")
        self._tags(self.host, repo)

    @work(thread=True, exclusive=True, group="registry-tags", exit_on_error=False)
    def _tags(self, host: str, repo: str) -> None:
        from imgtui.registry import browse

        try:
            rows: Sequence[Any] | None = browse.tags(host, repo)
            error = ""
        except BackendError as e:
            rows, error = None, str(e)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Tagged(repo, rows, error))

    @on(Tagged)
    def show_tags(self, event: Tagged) -> None:
        if event.repo != self.repo:
            return
        if event.rows is None:
            self.say(event.error)
            return
        self.rows = sorted(event.rows, key=lambda r: r.tag)
        table = self.query_one("#reg-tags", DataTable)
        table.clear()
        outdated = 0
        for row in self.rows:
            state = local_state(self.images, row.repository, row.tag, row.digest)
            outdated += state == OUTDATED
            table.add_row(
                row.tag,
                row.digest.removeprefix("sha256:")[:12],
                Text(human_size(row.size), justify="right"),
                ", ".join(row.platforms),
                row.created.strftime("%Y-%m-%d %H:%M") if row.created else "",
                Text(state, style="bold yellow" if state == OUTDATED else ""),
                key=row.tag,
            )
        note = f"; {outdated} local tag(s) outdated" if outdated else ""
        self.say(f"{self.host}/{self.repo}: {len(self.rows)} tags{note}; p pulls the chosen one")

    @on(DataTable.RowHighlighted, "#reg-tags")
    def tag_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        ref = f"{self.host}/{self.repo}:{event.row_key.value}"
        if ref == self.described:
            return
        self.described = ref
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.DETAILS_DELAY, lambda: self._start_describe(ref))

    def _start_describe(self, ref: str) -> None:
        self._timer = None
        self._describe(ref)

    # ------------------------------------------------------------------ tag → image

    @work(thread=True, exclusive=True, group="registry-image", exit_on_error=False)
    def _describe(self, ref: str) -> None:
        from imgtui.analysis import dockerfile
        from imgtui.backends.convert import image_config
        from imgtui.registry import browse

        try:
            image = browse.remote_image(ref)
        except BackendError as e:
            if not get_current_worker().is_cancelled:
                self.post_message(self.Described(ref, None, "", str(e)))
            return
        text = dockerfile.reconstruct(image.history, image_config(image.config.get("config")))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Described(ref, image, text))

    @on(Described)
    def show_image(self, event: Described) -> None:
        if event.ref != self.described:
            return
        if event.image is None:
            self.say(event.error)
            return
        image = event.image
        self.query_one(HistoryView).show(image.history)
        self.query_one(DockerfileView).show(event.dockerfile)
        config = json.dumps(image.config.get("config") or {}, indent=2, sort_keys=True)
        facts = (
            f"{event.ref}\ndigest {image.digest}\nmanifest {image.manifest_digest} "
            f"({image.media_type})\nplatform {image.platform} of "
            f"{', '.join(image.platforms)}\n{len(image.layers)} layers, "
            f"{human_size(image.size)} compressed\n\n{config}"
        )
        self.query_one("#reg-config", Static).update(Text(facts))

    # ------------------------------------------------------------------ keys

    def action_pull(self) -> None:
        table = self.query_one("#reg-tags", DataTable)
        if not self.rows or table.cursor_row < 0:
            self.notify("Choose a tag first", severity="warning")
            return
        tag = self.rows[table.cursor_row].tag
        from imgtui.screens.dialogs import PullDialog

        def done(result: object) -> None:
            if result:
                self.pulled = True
                self._relist_local()

        self.app.push_screen(PullDialog(self.backend, f"{self.host}/{self.repo}:{tag}"), done)

    @work(thread=True, exclusive=True, group="registry-local", exit_on_error=False)
    def _relist_local(self) -> None:
        """After a pull the LOCAL column must say ✓ for what just came down."""
        images = self.backend.images()
        self.app.call_from_thread(self._local_changed, images)

    def _local_changed(self, images: Sequence[ImageSummary]) -> None:
        self.images = images
        if self.rows:
            self.show_tags(self.Tagged(self.repo, self.rows))

    def action_reload(self) -> None:
        if self.repo:
            self.list_tags(self.repo)
        elif self.host:
            self.list_repositories(self.host)

    def action_focus_host(self) -> None:
        self.query_one("#host", Input).focus()

    def action_focus_repo(self) -> None:
        self.query_one("#repo", Input).focus()

    def action_close(self) -> None:
        self.dismiss(self.pulled)
