"""Ask the backend for its info and image list while Textual is still importing.

Importing Textual and the screens costs about 0.3 s, and listing 1,000 images costs 0.05–0.15 s
more (the daemon answers from another process; the store reads its caches). Done one after the
other, the first screen waits for both and paints twice: empty, then full. Started first, in a
thread, the list is usually ready when the screen mounts, so the first paint is the full one.

No Textual here: this module is imported before it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from imgtui.backends.base import Backend, BackendError, BackendInfo, ImageSummary


class Prefetch:
    """One info() and one images() call, made once, in a daemon thread."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._info: BackendInfo | None = None
        self._info_error: BackendError | None = None
        self._images: Sequence[ImageSummary] | None = None
        self._images_error: BaseException | None = None
        self._info_ready = threading.Event()
        self._images_ready = threading.Event()
        self._taken = False
        self._thread = threading.Thread(target=self._run, name="imgtui-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._info = self.backend.info()
        except BackendError as e:
            self._info_error = e
            return  # no list from a backend that does not answer
        except BaseException as e:  # never leave a waiter hanging on a bug
            self._info_error = BackendError(f"{type(e).__name__}: {e}")
            return
        finally:
            self._info_ready.set()
            if self._info_error is not None:
                self._images_ready.set()
        try:
            self._images = self.backend.images()
        except BaseException as e:  # handed to the waiter, which raises it in a worker
            self._images_error = e
        finally:
            self._images_ready.set()

    def info(self) -> BackendInfo:
        """Wait for info(); raises the backend's error, so the CLI can stop before the app."""
        self._info_ready.wait()
        if self._info_error is not None:
            raise self._info_error
        assert self._info is not None
        return self._info

    @property
    def images_ready(self) -> bool:
        return self._images_ready.is_set() and not self._taken

    def take_images(self) -> Sequence[ImageSummary] | None:
        """The prefetched list, once (later loads must ask the backend afresh); waits for it.

        None when it was taken already, or when info() failed and no list was asked for.
        """
        if self._taken:
            return None
        self._images_ready.wait()
        self._taken = True
        if self._images_error is not None:
            raise self._images_error
        return self._images
