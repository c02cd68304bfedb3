"""The Textual app: the main screen, the header, live refresh, and riding out a lost daemon."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from imgtui import commands
from imgtui.backends.base import Backend, BackendError, BackendInfo, BackendUnavailable
from imgtui.messages import BackendBack, BackendChanged, BackendLost, EventsStopped, InfoLoaded
from imgtui.prefetch import Prefetch
from imgtui.screens.main import MainScreen
from imgtui.styles import STYLESHEETS


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ImgtuiApp(App[None]):
    """The backend is passed in: tests hand it a fake, a real engine or a store in tmp_path."""

    TITLE = "imgtui"
    CSS_PATH = STYLESHEETS
    BINDINGS = [Binding("q", "quit", "Quit")]
    RETRY_SECONDS = 3.0  # how often an unreachable backend is asked again
    REFRESH_DEBOUNCE = 0.3  # seconds of quiet before a burst of events becomes one reload
    REFRESH_MAX_WAIT = 1.5  # ...but a steady stream still reloads at least this often

    def __init__(
        self,
        backend: Backend,
        clock: Callable[[], datetime] | datetime = _utcnow,
        *,
        prefetch: Prefetch | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.prefetch = prefetch
        if isinstance(clock, datetime):
            frozen = clock
            self.clock: Callable[[], datetime] = lambda: frozen
        else:
            self.clock = clock
        self.info: BackendInfo | None = None
        self.offline = ""  # the backend's error while it is unreachable, else ""
        self.events_seen = 0  # change events received (tests and the curious)
        self.live_reloads = 0  # reloads those events caused after debouncing
        self.main_screen: MainScreen  # made by get_default_screen, inside the app's context
        self._events_thread: threading.Thread | None = None
        self._shutting_down = threading.Event()
        self._refresh_timer: Timer | None = None
        self._refresh_since = 0.0
        self._retry_timer: Timer | None = None

    def get_default_screen(self) -> Screen[None]:
        self.main_screen = MainScreen(self.backend, self.clock, prefetch=self.prefetch)
        return self.main_screen

    def on_mount(self) -> None:
        if self.prefetch is not None:
            self.info = self.prefetch.info()  # run_app waited for it already
        else:
            self.load_info()
        self.refresh_header()
        self.start_events()

    def on_unmount(self) -> None:
        self._shutting_down.set()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
            yield from commands.system_commands(screen.run_command)

    @property
    def is_idle(self) -> bool:
        """No worker runs and no reload or details load is waiting: what tests wait for."""
        return (
            all(w.is_finished for w in self.workers)
            and self._refresh_timer is None
            and not self.main_screen.details_pending
        )

    # ------------------------------------------------------------------ header

    def refresh_header(self) -> None:
        """Backend, where it is, totals, and a warning while it does not answer."""
        if self.info is not None:
            parts = [self.info.name, self.info.location]
            if self.info.version:
                parts.append(self.info.version)
        else:
            parts = [self.backend.name]
        if self.main_screen.totals:
            parts.append(self.main_screen.totals)
        if self.offline:
            parts.append("⚠ unreachable — retrying")
        self.sub_title = " · ".join(parts)

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def load_info(self) -> None:
        self.post_message(InfoLoaded(self.backend.info()))

    @on(InfoLoaded)
    def show_info(self, event: InfoLoaded) -> None:
        self.info = event.info
        self.refresh_header()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, BackendUnavailable):
            self.backend_lost(error)
        else:
            self.notify(str(error), severity="error", timeout=8)

    # ------------------------------------------------------------------ live refresh

    def start_events(self) -> None:
        """Follow the backend's change stream, unless already following it."""
        if self._events_thread is not None and self._events_thread.is_alive():
            return
        # A daemon thread, not a worker: events() blocks until the backend closes, and a
        # worker that never ends would hold up app.workers.wait_for_complete() and exit.
        self._events_thread = threading.Thread(
            target=self._follow_events, name="imgtui-events", daemon=True
        )
        self._events_thread.start()

    def _follow_events(self) -> None:
        """Runs in the events thread: only posts messages, never touches a widget."""
        try:
            for event in self.backend.events():
                if self._shutting_down.is_set() or not self.post_message(BackendChanged(event)):
                    return
        except BackendUnavailable as e:
            self._post(BackendLost(e))
        except BackendError as e:
            self._post(EventsStopped(str(e)))
        except Exception as e:  # a broken stream must say so, not end live refresh silently
            self._post(EventsStopped(f"{type(e).__name__}: {e}"))

    def _post(self, message: BackendLost | EventsStopped) -> None:
        if not self._shutting_down.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed under us: the app is gone
                self.post_message(message)

    @on(BackendChanged)
    def schedule_reload(self, event: BackendChanged) -> None:
        """Coalesce a burst (a pull is dozens of events) into one reload."""
        self.events_seen += 1
        now = time.monotonic()
        if self._refresh_timer is None:
            self._refresh_since = now
        else:
            self._refresh_timer.stop()
        delay = min(self.REFRESH_DEBOUNCE, self._refresh_since + self.REFRESH_MAX_WAIT - now)
        self._refresh_timer = self.set_timer(max(0.0, delay), self._live_reload)

    def _live_reload(self) -> None:
        self._refresh_timer = None
        self.live_reloads += 1
        self.main_screen.reload()

    @on(EventsStopped)
    def events_stopped(self, event: EventsStopped) -> None:
        self.notify(
            f"Live refresh stopped: {event.reason}. Press r to refresh.",
            severity="warning",
            timeout=8,
        )

    # ------------------------------------------------------------------ unreachable backend

    @on(BackendLost)
    def events_lost(self, event: BackendLost) -> None:
        self.backend_lost(event.error)

    def backend_lost(self, error: BackendError) -> None:
        """Say it once, keep running, and ask again every few seconds."""
        if self.offline:
            return
        self.offline = str(error) or "unreachable"
        self.notify(
            str(error),
            title=f"{self.backend.name} unreachable: retrying every {self.RETRY_SECONDS:g} s",
            severity="error",
            timeout=10,
        )
        self._retry_timer = self.set_interval(self.RETRY_SECONDS, self.probe_backend)
        self.refresh_header()
        self.main_screen.show_status()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False)
    def probe_backend(self) -> None:
        try:
            info = self.backend.info()
        except BackendError:
            return  # still away: the next tick asks again
        self.post_message(BackendBack(info))

    @on(BackendBack)
    def backend_back(self, event: BackendBack) -> None:
        if not self.offline:
            return
        self.offline = ""
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        self.info = event.info
        self.notify(f"{event.info.name} answers again at {event.info.location}", timeout=5)
        self.refresh_header()
        self.main_screen.show_status()
        self.start_events()
        self.main_screen.reload()


def run_app(backend: Backend, prefetch: Prefetch) -> int:
    """Hand the terminal to the app once the backend has answered; its error stops us first."""
    prefetch.info()  # raises BackendError: the CLI prints it and exits non-zero
    ImgtuiApp(backend, prefetch=prefetch).run()
    return 0
