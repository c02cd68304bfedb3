"""Transfer speed for progress events: bytes per second over the last couple of seconds.

Pull and push report each layer's speed with its bytes (issue 6), whichever side knows the bytes:
the registry client measures its own transfers, the Docker backend measures the daemon's progress
messages as they arrive. A short window follows changes (a stall shows within seconds) without
the jitter of per-event rates.
"""

from __future__ import annotations

import time
from collections import deque

WINDOW = 2.0  # seconds of samples the speed is averaged over


class Rate:
    """Feed it the byte count as it grows; `update` returns the recent bytes per second."""

    def __init__(self, start: int = 0, now: float | None = None) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._samples.append((time.monotonic() if now is None else now, start))

    def update(self, current: int, now: float | None = None) -> float | None:
        """Bytes per second over the window ending now; None until some time has passed."""
        t = time.monotonic() if now is None else now
        samples = self._samples
        samples.append((t, current))
        while len(samples) > 2 and t - samples[1][0] >= WINDOW:
            samples.popleft()
        t0, b0 = samples[0]
        if t <= t0:
            return None
        return max(0.0, (current - b0) / (t - t0))


class Rates:
    """One Rate per layer id, made on first sight (for streams of several layers' events)."""

    def __init__(self) -> None:
        self._by_layer: dict[str, Rate] = {}

    def update(self, layer: str, current: int, now: float | None = None) -> float | None:
        rate = self._by_layer.get(layer)
        if rate is None:
            self._by_layer[layer] = Rate(current, now)
            return None
        return rate.update(current, now)
