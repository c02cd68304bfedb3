"""events(): changes arrive as ChangeEvents, and close() ends the stream."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest

from imgtui.backends.base import Backend, ChangeEvent
from tests.contract.harness import Harness
from tests.contract.helpers import assert_aware

pytestmark = pytest.mark.engine

WAIT = 15.0


class Watcher:
    """Consumes `backend.events()` in a thread, the way the TUI does."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.events: queue.Queue[ChangeEvent] = queue.Queue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.backend.events():
                self.events.put(event)
        except BaseException as e:
            self.errors.append(e)

    def wait_for(
        self, match: Callable[[ChangeEvent], bool], poke: Callable[[], object]
    ) -> ChangeEvent:
        """Poke until a matching event arrives (the subscription starts asynchronously)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            poke()
            until = time.monotonic() + 0.5
            while time.monotonic() < until:
                try:
                    event = self.events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if match(event):
                    return event
        raise AssertionError(f"no matching event within {WAIT:.0f}s; errors: {self.errors}")

    def stop(self) -> None:
        self.backend.close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "events() must end when the backend is closed"
        assert not self.errors, f"closing must end the stream quietly: {self.errors!r}"


def test_tag_and_delete_events(harness: Harness) -> None:
    img = harness.put("layered", tags=("src",))
    watcher = Watcher(harness.new_backend())
    n = iter(range(1000))
    tag = harness.backend.tag

    event = watcher.wait_for(
        lambda e: e.kind == "image" and e.action == "tag" and e.id == img.id,
        lambda: tag(img.ref, harness.ref(f"t{next(n)}")),
    )
    assert isinstance(event, ChangeEvent)
    assert_aware(event.time)

    harness.backend.remove(img.id, force=True)
    event = watcher.wait_for(
        lambda e: e.kind == "image" and e.action == "delete" and e.id == img.id,
        lambda: None,
    )
    assert event.id == img.id
    watcher.stop()


def test_container_events(harness: Harness) -> None:
    img = harness.put("layered", tags=("src",))
    watcher = Watcher(harness.new_backend())
    made: list[str] = []

    def create() -> None:
        made.append(harness.container_using(img.ref).id)

    event = watcher.wait_for(
        lambda e: e.kind == "container" and e.action == "create" and e.id in made, create
    )
    assert event.id in made
    watcher.stop()


def test_close_ends_an_idle_stream(harness: Harness) -> None:
    img = harness.put("layered", tags=("src",))
    watcher = Watcher(harness.new_backend())
    n = iter(range(1000))
    # Once one event came through, the stream is surely open; then let it sit idle.
    watcher.wait_for(
        lambda e: e.kind == "image" and e.id == img.id,
        lambda: harness.backend.tag(img.ref, harness.ref(f"t{next(n)}")),
    )
    time.sleep(1)
    assert watcher.thread.is_alive(), "the stream waits for more events"
    watcher.stop()
