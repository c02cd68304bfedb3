"""Every dialog and the disk usage view, driven with Pilot on the FakeBackend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Input, OptionList, ProgressBar, Select

from imgtui import render
from imgtui.backends.base import (
    BuildCacheUsage,
    BuildLog,
    BuildOptions,
    DiskUsage,
    ImageSummary,
    LayerProgress,
    ProgressEvent,
    StatusLine,
    Unsupported,
)
from imgtui.screens.dialogs import (
    BuildDialog,
    CleanupData,
    CleanupDialog,
    CommitDialog,
    HelpScreen,
    LayerRow,
    PullDialog,
    PushDialog,
    RemoveDialog,
    TagDialog,
    check_new_tag,
    cleanup_preview,
    parse_build_args,
    plan_removal,
)
from imgtui.screens.disk_usage import LEGEND, DiskUsageScreen
from imgtui.widgets.usage_bars import UsageBars
from tests.tui.fake_backend import FakeBackend, _id, with_container
from tests.tui.waiting import settle, until

SIZE = (120, 44)


class Host(App[None]):
    """A bare app that shows one screen and records what it dismissed with."""

    def __init__(self, make: Callable[[], Screen]) -> None:
        super().__init__()
        self.make = make
        self.results: list[object] = []
        self.dialog: Screen | None = None

    def on_mount(self) -> None:
        self.dialog = self.make()
        self.push_screen(self.dialog, self.results.append)


def calls(backend: FakeBackend, name: str) -> list[tuple[object, ...]]:
    return [args for what, args in backend.calls if what == name]


def image(backend: FakeBackend, n: int) -> ImageSummary:
    return next(i for i in backend.images() if i.id == _id(n))


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


# --------------------------------------------------------------------------- tag


async def test_tag_validates_as_you_type(backend: FakeBackend) -> None:
    app = Host(lambda: TagDialog(backend, image(backend, 2), "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ok = app.screen.query_one("#ok", Button)
        name = app.screen.query_one("#ref", Input)
        assert name.value == "demo/web:1.2" and not ok.disabled
        name.value = ""
        await pilot.press(*"Bad", "space", *"Name")
        assert name.value == "Bad Name"
        assert ok.disabled
        error = str(app.screen.query_one("#ref-error").render())
        reason = "repository name (library/Bad Name) must be lowercase"
        assert error == f"invalid reference format: {reason}"
        name.value = ""
        await pilot.press(*"ok/name:1")
        assert not ok.disabled
        assert "docker.io/ok/name:1" in str(app.screen.query_one("#ref-error").render())
        # A digest is no tag, as docker tag says.
        name.value = "ok/name@sha256:" + "a" * 64
        await pilot.pause()
        assert ok.disabled
        await pilot.press("enter")
        await settle(app, pilot)
        assert calls(backend, "tag") == []


async def test_tag_runs_backend_tag_and_dismisses_with_the_name(backend: FakeBackend) -> None:
    app = Host(lambda: TagDialog(backend, image(backend, 2), "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#ref", Input).value = ""
        await pilot.press(*"ok/name:1", "enter")
        await settle(app, pilot)
        assert calls(backend, "tag") == [("demo/web:1.2", "ok/name:1")]
        assert app.results == ["ok/name:1"]
        assert "ok/name:1" in image(backend, 2).repo_tags


async def test_tag_says_when_it_moves_a_name(backend: FakeBackend) -> None:
    app = Host(lambda: TagDialog(backend, image(backend, 2), "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#ref", Input).value = "demo/api:2.0"
        await pilot.pause()
        assert "tagging moves the name" in str(app.screen.query_one("#ref-error").render())


async def test_tag_escape_cancels(backend: FakeBackend) -> None:
    app = Host(lambda: TagDialog(backend, image(backend, 2), "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(*"x/y:1", "escape")
        await settle(app, pilot)
        assert app.results == [None]
        assert calls(backend, "tag") == []


async def test_tag_error_shown_in_dialog_and_notified(backend: FakeBackend) -> None:
    backend._images.pop(_id(2))  # someone removed it meanwhile
    summary = ImageSummary(_id(2), ("demo/web:1.2",), (), image(backend, 1).created, 1)
    app = Host(lambda: TagDialog(backend, summary, "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, TagDialog)
        assert dialog.error == "No such image: demo/web:1.2"
        assert "No such image" in str(dialog.query_one("#dialog-message").render())
        assert any("No such image" in n.message for n in app._notifications)
        assert app.results == []


def test_check_new_tag_uses_dockers_words() -> None:
    assert check_new_tag("ok/name:1") == ""
    assert "invalid reference format" in check_new_tag("a b")
    assert check_new_tag("").startswith("type")


# --------------------------------------------------------------------------- remove


async def test_remove_lists_what_goes_and_confirms(backend: FakeBackend) -> None:
    app = Host(lambda: RemoveDialog(backend, ["demo/web:1.2"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        plan = str(app.screen.query_one("#plan-lines").render())
        assert "demo/web:1.2" in plan
        assert "deletes image 020202020202 (3.65MB, 1.45MB unique)" in plan
        assert "deletes 1 image (frees about 1.45MB)" in str(
            app.screen.query_one("#plan-total").render()
        )
        assert not app.screen.query_one("#force-box").display
        assert calls(backend, "remove") == []
        await pilot.click("#ok")
        await settle(app, pilot)
        assert calls(backend, "remove") == [("demo/web:1.2", False, False)]
        assert "Removed 1 of 1." in app.screen.message
        await pilot.press("enter")  # Close has the focus
        await settle(app, pilot)
        assert app.results == [True]


async def test_remove_force_only_when_in_use(backend: FakeBackend) -> None:
    with_container(backend, _id(3))
    app = Host(lambda: RemoveDialog(backend, ["demo/api:2.0"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#force-box").display
        assert "docker rmi -f" in str(app.screen.query_one("#force", Checkbox).label)
        assert "in use by 1 container" in str(app.screen.query_one("#plan-lines").render())
        # Without force docker refuses; the refusal shows per target.
        await pilot.click("#ok")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, RemoveDialog)
        assert dialog.results[0][1] is None and "must force" in dialog.results[0][2]
        assert any("must force" in n.message for n in app._notifications)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.results == [False]

    app = Host(lambda: RemoveDialog(backend, ["demo/api:2.0"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.click("#force")
        await pilot.click("#ok")
        await settle(app, pilot)
        assert calls(backend, "remove")[-1] == ("demo/api:2.0", True, False)
        await pilot.press("escape")
        assert app.results == [True]


async def test_remove_all_marked_rows_with_one_confirmation(backend: FakeBackend) -> None:
    targets = ["demo/base:1.0", "demo/base:latest", "demo/worker:dev", _id(6)[:19]]
    app = Host(lambda: RemoveDialog(backend, targets))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "Remove 4 images?" in str(app.screen.query_one("#dialog-title").render())
        plan = str(app.screen.query_one("#plan-lines").render()).splitlines()
        assert plan[0] == "demo/base:1.0: untag only; image 010101010101 stays as demo/base:latest"
        assert plan[1].startswith("demo/base:latest: its last tag, so it also deletes image 0101")
        assert "deletes image 040404040404" in plan[2]
        assert "deletes image 060606060606" in plan[3]
        await pilot.click("#ok")
        await settle(app, pilot)
        assert [a[0] for a in calls(backend, "remove")] == targets
        assert {i.id for i in backend.images()}.isdisjoint({_id(1), _id(4), _id(6)})
        await pilot.press("escape")
        assert app.results == [True]


def test_plan_removal_by_id_with_several_tags_needs_force(backend: FakeBackend) -> None:
    images = backend.images()
    [item] = plan_removal(images, [_id(1), "demo/base:1.0"])  # the tag goes with the id
    assert item.deletes and item.needs_force
    assert item.untags == ("demo/base:1.0", "demo/base:latest")
    [missing] = plan_removal(images, ["nope:1"])
    assert missing.image is None


# --------------------------------------------------------------------------- pull and push


class GatedPull(FakeBackend):
    """Holds the pull open before its last event; records whether the stream was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.closed = False

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        events = list(super().pull(ref, platform=platform))  # records the call, adds the image
        try:
            yield from events[:3]
            self.gate.wait(30)
            yield from events[3:]
        except GeneratorExit:
            self.closed = True
            raise


class NoPull(FakeBackend):
    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        raise Unsupported("the built-in store cannot pull yet; use --backend docker, or load")


async def test_pull_shows_layers_and_status_then_dismisses_true(backend: FakeBackend) -> None:
    app = Host(lambda: PullDialog(backend, "demo:latest"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, PullDialog)
        assert calls(backend, "pull") == [("demo:latest", None)]
        [row] = dialog.query(LayerRow)
        bar = row.query_one(ProgressBar)
        assert bar.total == 5_000_000 and bar.progress == 5_000_000
        assert "Pull complete" in str(row.query_one(".layer-status").render())
        assert dialog.status_lines[0] == "latest: Pulling from library/demo"
        assert dialog.status_lines[-1] == "Status: Downloaded newer image for demo:latest"
        assert "Pulled demo:latest" in dialog.message
        # Done: the result stays, only Close is left; Enter in the input pulls nothing more.
        assert dialog.query_one("#ref", Input).disabled
        assert not dialog.query_one("#ok", Button).display
        assert app.focused is dialog.query_one("#cancel", Button)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.results == [True]
        assert any("demo:latest" in i.repo_tags for i in backend.images())


async def test_pull_progress_while_running_and_cancel_closes_the_stream() -> None:
    backend = GatedPull()
    app = Host(lambda: PullDialog(backend, "demo:latest"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        dialog = app.screen
        assert isinstance(dialog, PullDialog)
        await until(pilot, lambda: "aaa111" in dialog.layer_states, "layer progress")
        await pilot.pause(0.05)
        row = dialog.query_one(LayerRow)
        assert "Downloading 1MB/5MB" in str(row.query_one(".layer-status").render())
        assert row.query_one(ProgressBar).percentage == pytest.approx(0.2)
        assert dialog.running and str(dialog.query_one("#cancel", Button).label) == "Stop"
        await pilot.press("escape")  # stops the pull, keeps the dialog
        assert dialog.cancelled and app.screen is dialog
        assert "Pull cancelled" in dialog.message
        backend.gate.set()
        assert dialog.stream_closed.wait(5)
        assert backend.closed
        await settle(app, pilot)
        assert "Pull complete" not in str(row.query_one(".layer-status").render())
        await pilot.press("escape")
        assert app.results == [False]


async def test_pull_of_invalid_reference_is_blocked(backend: FakeBackend) -> None:
    app = Host(lambda: PullDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#ok", Button).disabled  # empty
        await pilot.press(*"demo/App", "enter")
        await settle(app, pilot)
        assert app.screen.query_one("#ok", Button).disabled
        assert "must be lowercase" in str(app.screen.query_one("#ref-error").render())
        assert calls(backend, "pull") == []


async def test_pull_unsupported_is_said_clearly() -> None:
    backend = NoPull()
    app = Host(lambda: PullDialog(backend, "busybox"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, PullDialog)
        assert dialog.error == "the built-in store cannot pull yet; use --backend docker, or load"
        assert "cannot pull yet" in str(dialog.query_one("#dialog-message").render())
        assert any("cannot pull yet" in n.message for n in app._notifications)
        assert not dialog.running
        await pilot.press("escape")
        assert app.results == [False]


async def test_push_shows_layers_and_status(backend: FakeBackend) -> None:
    app = Host(lambda: PushDialog(backend, "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "uploads to docker.io" in str(app.screen.query_one("#ref-error").render())
        await pilot.click("#ok")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, PushDialog)
        assert calls(backend, "push") == [("demo/web:1.2",)]
        assert dialog.layer_states["aaa111"].status == "Pushed"
        bar = dialog.query_one(LayerRow).query_one(ProgressBar)
        assert bar.percentage == 1
        assert dialog.status_lines[0] == "The push refers to repository [demo/web]"
        assert "Pushed demo/web:1.2" in dialog.message
        await pilot.press("escape")
        assert app.results == [True]


# --------------------------------------------------------------------------- build


def test_parse_build_args() -> None:
    assert parse_build_args("A=1, B=2\nC=x,y\n\nD=") == {"A": "1", "B": "2", "C": "x,y", "D": ""}
    with pytest.raises(ValueError):
        parse_build_args("=oops")


async def test_build_streams_the_log_and_dismisses_true(
    backend: FakeBackend, tmp_path: Path
) -> None:
    app = Host(lambda: BuildDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, BuildDialog)
        dialog.query_one("#build-context", Input).value = str(tmp_path)
        dialog.query_one("#ref", Input).value = "built:latest"
        dialog.query_one("#build-args").text = "VERSION=2.0, FLAVOUR=slim"
        assert dialog.query_one("#build-network", Select).value == "default"
        dialog.query_one("#build-network", Select).value = "none"
        await pilot.click("#ok")
        await settle(app, pilot)
        [(options,)] = calls(backend, "build")
        assert isinstance(options, BuildOptions)
        assert options.context == tmp_path and options.tags == ("built:latest",)
        assert dict(options.build_args) == {"VERSION": "2.0", "FLAVOUR": "slim"}
        assert options.network_mode == "none"
        lines = list(dialog.log_lines)
        assert lines[:4] == [
            "Step 1/2 : FROM demo/base:1.0",
            " ---> 0123456789ab",
            "Step 2/2 : RUN echo hello",
            "hello",
        ]
        assert "Successfully tagged built:latest" in lines
        assert dialog.query_one("#build-log").lines  # drawn, not only recorded
        assert "Built built:latest" in dialog.message
        await pilot.press("escape")
        assert app.results == [True]


async def test_chatty_build_is_drawn_in_batches(backend: FakeBackend, tmp_path: Path) -> None:
    backend.build_events = [BuildLog(f"line {n}\n") for n in range(5000)]
    app = Host(lambda: BuildDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, BuildDialog)
        batches: list[int] = []
        draw = dialog.show_events

        def counting(events: list[ProgressEvent]) -> None:
            batches.append(len(events))
            draw(events)

        dialog.show_events = counting  # type: ignore[method-assign]
        dialog.query_one("#build-context", Input).value = str(tmp_path)
        await pilot.click("#ok")
        await settle(app, pilot)
        assert sum(batches) == 5000
        assert len(batches) < 2500, "each wake-up drew many events"
        assert list(dialog.log_lines)[-1] == "line 4999"


async def test_build_invalid_tag_blocks(backend: FakeBackend, tmp_path: Path) -> None:
    app = Host(lambda: BuildDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#ref", Input).value = "Bad Name"
        await pilot.pause()
        assert app.screen.query_one("#ok", Button).disabled
        assert calls(backend, "build") == []


async def test_build_cancel_stops_while_held_open(backend: FakeBackend, tmp_path: Path) -> None:
    backend.build_gate = gate = threading.Event()
    app = Host(lambda: BuildDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, BuildDialog)
        dialog.query_one("#build-context", Input).value = str(tmp_path)
        dialog.query_one("#ref", Input).value = "built:latest"
        await pilot.click("#ok")
        await until(pilot, lambda: "hello" in dialog.log_lines, "the build log")
        assert dialog.running
        assert dialog.query_one("#build-context", Input).disabled  # the form is locked
        await pilot.click("#cancel")  # "Stop"
        assert dialog.cancelled and not dialog.running
        assert "Build cancelled" in dialog.message
        assert app.screen is dialog
        gate.set()
        assert dialog.stream_closed.wait(5)
        await settle(app, pilot)
        assert not any("built:latest" in i.repo_tags for i in backend.images())
        assert "Successfully built" not in " ".join(dialog.log_lines)
        assert not dialog.query_one("#build-context", Input).disabled
        await pilot.press("escape")
        assert app.results == [False]


# --------------------------------------------------------------------------- commit


async def test_commit_picks_a_container_and_commits(backend: FakeBackend) -> None:
    cid = with_container(backend, _id(2))
    app = Host(lambda: CommitDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        options = app.screen.query_one("#containers", OptionList)
        assert options.option_count == 1
        assert "ctr1" in str(options.get_option_at_index(0).prompt)
        app.screen.query_one("#ref", Input).value = "Snap"
        await pilot.pause()
        assert app.screen.query_one("#ok", Button).disabled
        app.screen.query_one("#ref", Input).value = "snap/shot:1"
        app.screen.query_one("#commit-message", Input).value = "added things"
        await pilot.pause()
        await pilot.click("#ok")
        await settle(app, pilot)
        assert calls(backend, "commit") == [(cid, "snap/shot:1", "added things")]
        [new_id] = app.results
        assert isinstance(new_id, str) and new_id.startswith("sha256:")
        assert any("snap/shot:1" in i.repo_tags for i in backend.images())


async def test_commit_without_containers_says_so(backend: FakeBackend) -> None:
    app = Host(lambda: CommitDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "no containers" in app.screen.message
        assert app.screen.query_one("#ok", Button).disabled


# --------------------------------------------------------------------------- clean-up


async def test_cleanup_previews_before_deleting_then_prunes(backend: FakeBackend) -> None:
    app = Host(lambda: CleanupDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#cleanup-preview", DataTable)
        assert table.row_count == 1
        assert [str(c) for c in table.get_row_at(0)] == [
            "<none>:<none>",
            "060606060606",
            "3.63MB",
            "1.43MB",
        ]
        summary = str(app.screen.query_one("#cleanup-summary").render())
        assert "docker image prune would remove 1 image, freeing about 1.43MB" in summary
        assert not [c for c in backend.calls if "prune" in c[0]]
        await pilot.click("#ok")
        await settle(app, pilot)
        assert calls(backend, "prune_images") == [(False, None)]
        dialog = app.screen
        assert isinstance(dialog, CleanupDialog)
        assert "Total reclaimed space: 3.63MB" in dialog.message
        assert dialog.report is not None
        assert render.prune_lines(dialog.report)[1] == f"deleted: {_id(6)}"
        await pilot.press("escape")
        assert app.results == [True]


async def test_cleanup_unused_and_other_kinds(backend: FakeBackend) -> None:
    with_container(backend, _id(3))
    app = Host(lambda: CleanupDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.click("#kind-unused")
        await pilot.pause()
        table = app.screen.query_one("#cleanup-preview", DataTable)
        assert table.row_count == 6  # every image but the one the container uses
        assert "040404040404" in [str(table.get_row_at(r)[1]) for r in range(6)]
        await pilot.click("#kind-system")
        await pilot.pause()
        rows = [str(table.get_row_at(r)[0]) for r in range(table.row_count)]
        assert rows == ["container ctr1", "<none>:<none>"]
        assert not [c for c in backend.calls if "prune" in c[0]]
        await pilot.click("#ok")
        await settle(app, pilot)
        assert calls(backend, "system_prune") == [(False, False)]
        await pilot.press("escape")
        assert app.results == [True]


async def test_cleanup_nothing_to_remove_is_not_offered() -> None:
    backend = FakeBackend()
    backend._images.pop(_id(6))
    app = Host(lambda: CleanupDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        ok = app.screen.query_one("#ok", Button)
        assert ok.disabled and str(ok.label) == "Nothing to remove"
        await pilot.press("escape")
        assert app.results == [False]


def test_cleanup_preview_build_cache() -> None:
    cache = (
        BuildCacheUsage("c1", "regular", 4096, in_use=False, shared=False, description="RUN x"),
        BuildCacheUsage("c2", "regular", 1000, in_use=True, shared=False),
    )
    usage = DiskUsage(layers_size=0, images=(), build_cache=cache)
    preview = cleanup_preview("cache", CleanupData((), usage, ()))
    assert preview.rows == (("regular RUN x", "c1", "4.1kB", ""),)
    assert preview.frees == 4096
    assert "docker builder prune would remove 1 build cache record" in preview.summary


# --------------------------------------------------------------------------- disk usage and help


async def test_disk_usage_bars_ranked_and_totals(backend: FakeBackend) -> None:
    with_container(backend, _id(2), running=True)
    app = Host(lambda: DiskUsageScreen(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiskUsageScreen)
        bars = screen.query_one(UsageBars)
        rows = bars.rows
        assert rows[0].label == "registry.example.com:5000/team/tool:v3"
        assert [r.unique for r in rows] == sorted((r.unique for r in rows), reverse=True)
        assert rows[-1].label == "demo/base:1.0 +1" and rows[-1].unique == 0
        first = bars.line_text(0)
        assert "070707070707" in first and "12MB" in first and "█" in first
        assert "░" in bars.line_text(1)  # a shared part
        table = screen.query_one("#df-totals", DataTable)
        usage = backend.disk_usage()
        expected = render.df_rows(usage)
        assert [str(k.value) for k in table.rows] == [
            "Images",
            "Containers",
            "Local Volumes",
            "Build Cache",
        ]
        for index, row in enumerate(expected):
            assert [str(c) for c in table.get_row_at(index)] == [
                row["Type"],
                row["TotalCount"],
                row["Active"],
                row["Size"],
                row["Reclaimable"],
            ]
        assert [str(c.label) for c in table.columns.values()] == [
            "TYPE",
            "TOTAL",
            "ACTIVE",
            "SIZE",
            "RECLAIMABLE",
        ]
        legend = str(screen.query_one("#df-legend").render())
        assert legend == LEGEND
        for word in ("SIZE", "SHARED", "UNIQUE", "RECLAIMABLE"):
            assert word in legend
        assert "dangling images 1.43MB" in str(screen.query_one("#df-cleanup").render())
        await pilot.press("u")
        assert app.results == [None]


async def test_disk_usage_error_is_shown(backend: FakeBackend) -> None:
    backend.available = False
    app = Host(lambda: DiskUsageScreen(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiskUsageScreen)
        assert "cannot connect" in screen.error
        await pilot.press("q")
        assert app.results == [None]


async def test_help_lists_keys_and_closes() -> None:
    keys = [("t", "Tag the image"), ("d", "Remove (asks first)"), ("?", "This help")]
    for close in ("escape", "question_mark", "q"):
        app = Host(lambda: HelpScreen(keys))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.screen.query_one("#help-keys", DataTable)
            assert [[str(c) for c in table.get_row_at(r)] for r in range(3)] == [
                list(k) for k in keys
            ]
            await pilot.press(close)
            assert app.results == [None]


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_dialogs_draw_in_dark_and_light_themes(backend: FakeBackend, theme: str) -> None:
    makers: list[Callable[[], Screen]] = [
        lambda: TagDialog(backend, image(backend, 2), "demo/web:1.2"),
        lambda: RemoveDialog(backend, ["demo/web:1.2"]),
        lambda: PullDialog(backend, "demo:latest"),
        lambda: PushDialog(backend, "demo/web:1.2"),
        lambda: BuildDialog(backend),
        lambda: CommitDialog(backend),
        lambda: CleanupDialog(backend),
        lambda: DiskUsageScreen(backend),
        lambda: HelpScreen([("q", "Quit")]),
    ]
    for make in makers:
        app = Host(make)
        async with app.run_test(size=SIZE) as pilot:
            app.theme = theme
            await settle(app, pilot)
            assert app.screen is app.dialog
            svg = app.export_screenshot()
            assert "Traceback" not in svg


async def test_status_line_text_is_not_markup(backend: FakeBackend) -> None:
    backend.pull_events = [StatusLine("[bold]not markup[/]"), LayerProgress("[x]", "Waiting")]
    app = Host(lambda: PullDialog(backend, "demo:latest"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, PullDialog)
        assert dialog.status_lines == ["[bold]not markup[/]"]
        assert "[x]" in str(dialog.query_one(LayerRow).query_one(".layer-id").render())
