"""Transfer speeds: Rate's window, Rates per layer, and how the CLI and the TUI show them."""

from __future__ import annotations

import io

import pytest

from imgtui import fmt
from imgtui.backends.base import LayerProgress
from imgtui.backends.docker_sdk import _progress
from imgtui.cli import ProgressPrinter
from imgtui.rate import WINDOW, Rate, Rates
from imgtui.screens.dialogs import LayerRow


def test_rate_averages_over_the_window_and_shows_a_stall() -> None:
    r = Rate(0, now=0.0)
    assert r.update(0, now=0.0) is None, "no time has passed"
    assert r.update(100, now=1.0) == pytest.approx(100.0)
    for t in range(2, 6):
        r.update(100 * t, now=float(t))
    assert r.update(600, now=6.0) == pytest.approx(100.0)
    # the transfer stalls: within the window the speed falls to 0
    r.update(600, now=6.0 + WINDOW)
    assert r.update(600, now=7.0 + WINDOW) == pytest.approx(0.0)


def test_rate_never_goes_negative_when_a_transfer_restarts() -> None:
    r = Rate(1000, now=0.0)
    assert r.update(10, now=1.0) == 0.0


def test_rates_keep_one_meter_per_layer() -> None:
    rates = Rates()
    assert rates.update("a", 0, now=0.0) is None
    assert rates.update("b", 500, now=0.0) is None
    assert rates.update("a", 300, now=1.0) == pytest.approx(300.0)
    assert rates.update("b", 600, now=1.0) == pytest.approx(100.0)


def test_daemon_progress_messages_get_a_speed() -> None:
    """docker's own pull/push messages, as the Engine API streams them."""
    rates = Rates()

    def msg(current: int) -> dict[str, object]:
        detail = {"current": current, "total": 1000}
        return {"status": "Downloading", "id": "abc", "progressDetail": detail}

    first = _progress(msg(100), rates)
    assert isinstance(first, LayerProgress) and first.rate is None
    second = _progress(msg(400), rates)
    assert isinstance(second, LayerProgress) and second.rate is not None and second.rate > 0
    done = _progress({"status": "Pull complete", "id": "abc"}, rates)
    assert isinstance(done, LayerProgress) and done.rate is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_shows_the_speed_while_a_layer_transfers() -> None:
    out = _Terminal()
    printer = ProgressPrinter(out)
    printer(LayerProgress("abc", "Downloading", 500_000, 1_000_000, 2_500_000.0))
    assert out.getvalue().rstrip("\n").endswith("500kB/1MB  2.5MB/s")
    printer(LayerProgress("abc", "Download complete", 1_000_000, 1_000_000, 2_500_000.0))
    redrawn = out.getvalue().rsplit("\x1b[2K", 1)[1].split("\x1b[", 1)[0]
    assert redrawn.startswith("abc: Download complete [") and "/s" not in redrawn, redrawn


def test_tui_layer_row_shows_the_speed() -> None:
    row = LayerRow("abc")
    row.show(LayerProgress("abc", "Downloading", 250, 1000, 98_123_456.0))
    assert row.text == "Downloading 250B/1kB · 98.12MB/s"
    row.show(LayerProgress("abc", "Pull complete"))
    assert "/s" not in row.text


def test_human_rate_has_no_exponent() -> None:
    assert fmt.human_rate(999_500) == "999.5kB/s"
