"""Messages that carry backend results from thread workers to the event loop."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from imgtui.backends.base import BackendInfo, HistoryEntry, ImageSummary


class ImagesLoaded(Message):
    def __init__(self, images: Sequence[ImageSummary]) -> None:
        super().__init__()
        self.images = images


class DetailsLoaded(Message):
    def __init__(self, image_id: str, history: Sequence[HistoryEntry], dockerfile: str) -> None:
        super().__init__()
        self.image_id = image_id
        self.history = history
        self.dockerfile = dockerfile


class InfoLoaded(Message):
    def __init__(self, info: BackendInfo) -> None:
        super().__init__()
        self.info = info
