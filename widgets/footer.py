"""Textual's Footer, recomposed once per burst of binding changes instead of once per change.

At startup focus moves and tabs mount, and every step publishes the screen's bindings signal;
the stock Footer queues one full recompose (about 20 keys, 35 ms) for each, seven in a row here,
which held the footer back half a second after the table was already on screen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer as _TextualFooter


class Footer(_TextualFooter):
    """Coalesces recomposes: one is queued at a time and reads the bindings current then."""

    _recompose_queued = False

    def compose(self) -> ComposeResult:
        # The stock footer starts empty and fills in after the first refresh; the screen's
        # bindings are known already, so the first paint shows them (focus changes later
        # recompose as usual).
        self._bindings_ready = True
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._recompose_queued:
            self._bindings_ready = True
            return
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            self._recompose_queued = True
            self._bindings_ready = True
            self.call_after_refresh(self._recompose_now)
            return
        super().bindings_changed(screen)

    async def _recompose_now(self) -> None:
        self._recompose_queued = False
        await self.recompose()
