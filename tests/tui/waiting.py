"""Waiting in Pilot tests: for the app to go quiet, or for a condition, with a bound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _quiet(app: Any) -> bool:
    """No worker running and, for ImgtuiApp, nothing scheduled (a debounced reload, a retry)."""
    return all(w.is_finished for w in app.workers) and getattr(app, "is_idle", True)


async def settle(app: Any, pilot: Any, timeout: float = 10) -> None:
    """Exclusive workers cancel each other, so poll instead of awaiting them."""
    for _ in range(int(timeout / 0.02)):
        await pilot.pause(0.02)
        if _quiet(app):
            await pilot.pause()
            if _quiet(app):
                return
    raise AssertionError("the app did not settle")


async def until(pilot: Any, check: Callable[[], bool], what: str, timeout: float = 6) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")
