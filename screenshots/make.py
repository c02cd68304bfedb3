"""Regenerate screenshots/*.svg from the real app on the demo images.

Run from anywhere (imgtui installed in the running Python):

    python screenshots/make.py [--out DIR]

A fresh built-in store in a temp dir is filled with `make_demo(store, now=NOW)` and shown by
`ImgtuiApp(BuiltinBackend(store), clock=NOW)` in a headless 140x40 terminal; each view is reached
with the keys a user would press. The demo's ids and dates follow from NOW, so the files change
only when the app's look does. The store is opened by a relative path, so the header shows
"demo-store" rather than a random temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from textual.pilot import Pilot

from imgtui.app import ImgtuiApp
from imgtui.backends.builtin import BuiltinBackend
from imgtui.demo import make_demo
from imgtui.store.layout import Store

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
SIZE = (140, 40)
STORE = "demo-store"


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .svg
    keys: Sequence[str]  # pressed on the main screen, after the list and details loaded
    what: str  # alt text for the README


SHOTS = (
    Shot("main", (), "main screen: image list beside the History tab"),
    Shot("dockerfile", ("tab", "right"), "Dockerfile tab"),
    Shot("inspect", ("tab", "right", "right"), "Inspect tab"),
    Shot("layers", ("l", "z"), "Layers tab, zoomed: dive's figures, layers and the file tree"),
    Shot("disk-usage", ("u",), "disk usage view"),
    Shot("cleanup", ("x",), "clean-up preview"),
    Shot("tag", ("t",), "tag dialog"),
)


async def settle(app: ImgtuiApp, pilot: Pilot[None], timeout: float = 15) -> None:
    """Until every worker is done and the app has nothing pending."""
    for _ in range(int(timeout / 0.05)):
        await pilot.pause(0.05)
        if app.is_idle:
            await pilot.pause()
            if app.is_idle:
                return
    raise RuntimeError("the app did not settle")


async def shoot(store: Path, shot: Shot, out: Path) -> Path:
    backend = BuiltinBackend(store)
    app = ImgtuiApp(backend, clock=NOW)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            for key in shot.keys:
                await pilot.press(key)
                await settle(app, pilot)
            await pilot.pause(0.2)  # let focus and tab underline animations finish
            return Path(app.save_screenshot(f"{shot.name}.svg", str(out)))
    finally:
        backend.close()


async def make_all(out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="imgtui-screenshots-") as tmp:
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            make_demo(Store.open(STORE), now=NOW)
            return [await shoot(Path(STORE), shot, out) for shot in SHOTS]
        finally:
            os.chdir(cwd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where the SVGs go")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(make_all(out)):
        print(path)


if __name__ == "__main__":
    main()
