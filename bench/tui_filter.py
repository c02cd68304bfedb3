"""Filter latency, fill time and memory of the main screen with 10,000 images (headless).

Run: python bench/tui_filter.py [--images N] [--datatable]

Prints, for FakeBackend(many_images(N)) in ImgtuiApp.run_test():
- fill: from app start until the table holds every row (backend call, rows built in a worker,
  table.show on the loop), and the time table.show itself held the event loop;
- per keystroke typed into the filter: the filter handler (ImageTable.set_filter), a repaint of
  the table's visible lines, a full repaint of the screen, and press-to-idle (Pilot.press returns
  once the app is idle: mostly Pilot's own idle detection, the same with 100 images);
- RSS before the app, after the fill, and the peak.
--datatable also times Textual's DataTable with the same rows (clear + add_rows, then the first
paint), the approach this table replaced. Not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgtui.app import ImgtuiApp
from imgtui.widgets.image_table import ImageTable
from tests.tui.fake_backend import FROZEN, FakeBackend, many_images

QUERY = "bulk/app042:v7"


def rss_mb() -> float:
    """Resident set size now, from /proc (Linux); the peak where /proc is missing."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return peak_mb()


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):6.2f} ms  p95 {p95:6.2f} ms  "
        f"max {ordered[-1]:6.2f} ms  (n={len(ordered)})"
    )


async def bench_app(n: int) -> None:
    backend = FakeBackend(many_images(n))
    before = rss_mb()
    app = ImgtuiApp(backend, clock=FROZEN)
    show_ms: list[float] = []
    filter_ms: list[float] = []
    original_show = ImageTable.show
    original_filter = ImageTable.set_filter

    def timed_show(self, rows, now):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        original_show(self, rows, now)
        show_ms.append((time.perf_counter() - started) * 1000)

    def timed_filter(self, text):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        original_filter(self, text)
        filter_ms.append((time.perf_counter() - started) * 1000)

    ImageTable.show = timed_show  # type: ignore[method-assign]
    ImageTable.set_filter = timed_filter  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        async with app.run_test(size=(160, 45)) as pilot:
            table = app.main_screen.query_one(ImageTable)
            while table.row_count < n:
                await pilot.pause(0.005)
            await pilot.pause()
            fill = time.perf_counter() - started
            after_fill = rss_mb()
            while not app.is_idle:
                await pilot.pause(0.01)

            await pilot.press("slash")
            press_ms: list[float] = []
            keys = [*QUERY, *["backspace"] * len(QUERY), *"v9", "backspace", "backspace"]
            paint_ms: list[float] = []
            screen_ms: list[float] = []
            for key in keys:
                t0 = time.perf_counter()
                await pilot.press(key)
                press_ms.append((time.perf_counter() - t0) * 1000)
                # What a repaint of the table costs now: every visible line drawn anew.
                t0 = time.perf_counter()
                for y in range(table.size.height):
                    table.render_line(y)
                paint_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                app.screen._compositor.render_update(full=True)
                screen_ms.append((time.perf_counter() - t0) * 1000)
            matches = table.row_count
            typed = list(filter_ms)
            await pilot.press("escape")
    finally:
        ImageTable.show = original_show  # type: ignore[method-assign]
        ImageTable.set_filter = original_filter  # type: ignore[method-assign]
        backend.close()

    print(f"images: {n:,} (one tag each); terminal 160x45, headless")
    print(f"fill, app start to all rows in the table: {fill * 1000:8.1f} ms")
    print(f"  ImageTable.show on the event loop:      {max(show_ms):8.1f} ms")
    print(f"filter handler per keystroke:  {summary(typed)}")
    print(f"table paint (visible lines):   {summary(paint_ms)}")
    both = [f + p for f, p in zip(typed, paint_ms, strict=False)]
    print(f"filter + table paint:          {summary(both)}")
    print(f"whole-screen full repaint:     {summary(screen_ms)}")
    print(f"press-to-idle per keystroke:   {summary(press_ms)}")
    print("  (press-to-idle is mostly Pilot's idle detection: compare with --images 100)")
    print(f"  ({len(press_ms)} keys: type {QUERY!r}, erase it, type 'v9', erase; {matches} left)")
    peak = peak_mb()
    print(f"RSS: before app {before:.1f} MB, after fill {after_fill:.1f} MB, peak {peak:.1f} MB")


async def bench_datatable(n: int) -> None:
    """The replaced approach: a DataTable rebuilt with every row, as on each filter keystroke."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    rows = [
        (f"bulk/app{k % 100:03d}", f"v{k // 100}", f"{k:012x}", "5 min ago", "2 MB", "2 MB", "0")
        for k in range(n)
    ]

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = Bare()
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(DataTable)
        table.add_columns("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED", "CTRS")
        await pilot.pause()
        t0 = time.perf_counter()
        table.clear()
        table.add_rows(rows)
        t1 = time.perf_counter()
        await pilot.pause()
        t2 = time.perf_counter()
    print(f"DataTable, {n:,} rows: clear+add_rows {1000 * (t1 - t0):8.1f} ms, ", end="")
    print(f"then first paint {1000 * (t2 - t1):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--datatable", action="store_true", help="also time a plain DataTable")
    args = parser.parse_args()
    asyncio.run(bench_app(args.images))
    if args.datatable:
        asyncio.run(bench_datatable(args.images))


if __name__ == "__main__":
    main()
