"""Messages that carry backend results from thread workers (and the event stream) to the loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.message import Message

from imgtui.backends.base import (
    BackendError,
    BackendInfo,
    ChangeEvent,
    HistoryEntry,
    ImageDetail,
    ImageSummary,
)

if TYPE_CHECKING:
    from imgtui.widgets.image_table import Row


class ImagesLoaded(Message):
    """The image list, with its table rows built off the event loop."""

    def __init__(
        self,
        images: Sequence[ImageSummary],
        rows: Sequence[Row],
        *,
        usage_of: Sequence[ImageSummary] | None = None,
    ) -> None:
        super().__init__()
        self.images = images
        self.rows = rows
        # Set when `images` is the list `usage_of` with shared sizes and containers filled in.
        self.usage_of = usage_of


class DetailsLoaded(Message):
    """History, inspect data and a Dockerfile for one image."""

    def __init__(
        self,
        image_id: str,
        history: Sequence[HistoryEntry],
        detail: ImageDetail,
        dockerfile: str,
        original: bool = False,
    ) -> None:
        super().__init__()
        self.image_id = image_id
        self.history = history
        self.detail = detail
        self.dockerfile = dockerfile
        self.original = original  # True: the image's own Dockerfile; False: reconstructed


class InfoLoaded(Message):
    def __init__(self, info: BackendInfo) -> None:
        super().__init__()
        self.info = info


class BackendChanged(Message):
    """The backend reported a change (daemon event or store change); the list should follow."""

    def __init__(self, event: ChangeEvent) -> None:
        super().__init__()
        self.event = event


class BackendLost(Message):
    """A call found the daemon or store unreachable."""

    def __init__(self, error: BackendError) -> None:
        super().__init__()
        self.error = error


class BackendBack(Message):
    """The backend answers again after being unreachable."""

    def __init__(self, info: BackendInfo) -> None:
        super().__init__()
        self.info = info


class EventsStopped(Message):
    """The change stream ended with an error other than unreachability; live refresh is off."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class Copied(Message):
    """Text went to a clipboard; `via` says which ("clipboard" or "terminal")."""

    def __init__(self, what: str, text: str, via: str) -> None:
        super().__init__()
        self.what = what
        self.text = text
        self.via = via
