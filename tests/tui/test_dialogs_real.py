"""The dialogs once more on real backends: the built-in store in tmp_path and the test engine."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, OptionList, ProgressBar, RichLog, Select

from imgtui import fmt, render
from imgtui.backends.base import ImageSummary
from imgtui.backends.builtin import BuiltinBackend
from imgtui.backends.docker_sdk import DockerBackend
from imgtui.demo import make_demo
from imgtui.screens.dialogs import (
    BuildDialog,
    CleanupDialog,
    CommitDialog,
    LayerRow,
    PullDialog,
    PushDialog,
    RemoveDialog,
    TagDialog,
)
from imgtui.screens.disk_usage import DiskUsageScreen
from imgtui.store.layout import Store
from imgtui.widgets.usage_bars import UsageBars
from tests.conftest import BASE_REPO, build_image
from tests.tui.test_dialogs import SIZE, Host, settle

SLOW = 180  # seconds a real engine may take for a pull or a build


def named(backend, name: str) -> ImageSummary:
    return next(i for i in backend.images() if name in i.repo_tags)


# --------------------------------------------------------------------------- built-in store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BuiltinBackend]:
    make_demo(Store.open(tmp_path / "store"))
    backend = BuiltinBackend(tmp_path / "store")
    yield backend
    backend.close()


async def test_store_tag(store: BuiltinBackend) -> None:
    web = named(store, "demo/web:1.2")
    app = Host(lambda: TagDialog(store, web, "demo/web:1.2"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#ref", Input).value = ""
        await pilot.press(*"demo/web:stable", "enter")
        await settle(app, pilot)
        assert app.results == ["demo/web:stable"]
    assert named(store, "demo/web:stable").id == web.id


async def test_store_remove_with_confirm(store: BuiltinBackend) -> None:
    worker = named(store, "demo/worker:dev")
    app = Host(lambda: RemoveDialog(store, ["demo/worker:dev"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        plan = str(app.screen.query_one("#plan-lines").render())
        assert f"its last tag, so it also deletes image {worker.short_id}" in plan
        assert "unique" in plan  # the store's disk usage filled in the unique bytes
        assert any(i.id == worker.id for i in store.images())  # nothing went yet
        await pilot.click("#ok")
        await settle(app, pilot)
        assert "Removed 1 of 1." in app.screen.message
        await pilot.press("escape")
        assert app.results == [True]
    assert all(i.id != worker.id for i in store.images())


async def test_store_cleanup_preview_then_prune(store: BuiltinBackend) -> None:
    [dangling] = [i for i in store.images() if not i.repo_tags]
    usage = {u.id: u for u in store.disk_usage().images}
    count = len(store.images())
    app = Host(lambda: CleanupDialog(store))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#cleanup-preview", DataTable)
        assert table.row_count == 1
        row = [str(c) for c in table.get_row_at(0)]
        assert row[:2] == ["<none>:<none>", dangling.short_id]
        frees = fmt.human_size(usage[dangling.id].unique_size)
        assert row[3] == frees
        summary = str(app.screen.query_one("#cleanup-summary").render())
        assert f"would remove 1 image, freeing about {frees}" in summary
        assert len(store.images()) == count  # the preview deleted nothing
        await pilot.click("#ok")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, CleanupDialog)
        assert dialog.report is not None and dangling.id in dialog.report.deleted_images
        assert dialog.message.startswith("Total reclaimed space: ")
        await pilot.press("escape")
        assert app.results == [True]
    assert len(store.images()) == count - 1


async def test_store_disk_usage(store: BuiltinBackend) -> None:
    app = Host(lambda: DiskUsageScreen(store))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiskUsageScreen)
        du = store.disk_usage()
        rows = screen.query_one(UsageBars).rows
        assert len(rows) == len(du.images)
        assert [r.unique for r in rows] == sorted((r.unique for r in rows), reverse=True)
        table = screen.query_one("#df-totals", DataTable)
        expected = [
            [r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]]
            for r in render.df_rows(du)
        ]
        assert [[str(c) for c in table.get_row_at(i)] for i in range(4)] == expected
        await pilot.press("escape")
        assert app.results == [None]


def _push_to_closed_port(b: BuiltinBackend) -> PushDialog:
    b.tag("demo/web:1.2", "127.0.0.1:1/demo/web:1.2")
    return PushDialog(b, "127.0.0.1:1/demo/web:1.2")


# Nothing listens on 127.0.0.1:1: the registry client's one-line error reaches the dialog.
@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda b: PullDialog(b, "127.0.0.1:1/demo/web:1.2"), "cannot reach registry 127.0.0.1:1"),
        (_push_to_closed_port, "cannot reach registry 127.0.0.1:1"),
    ],
)
async def test_store_pull_and_push_report_registry_errors(
    store: BuiltinBackend, make, said
) -> None:
    app = Host(lambda: make(store))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.click("#ok")
        await settle(app, pilot)
        dialog = app.screen
        assert dialog.error.startswith(said)
        assert said in str(dialog.query_one("#dialog-message").render())
        assert any(said in n.message for n in app._notifications)
        await pilot.press("escape")
        assert app.results == [False]


async def test_store_build_streams_its_log(store: BuiltinBackend, tmp_path: Path) -> None:
    """The daemonless builder behind the same dialog: steps stream, the image is there."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.txt").write_text("hello\n")
    (ctx / "Dockerfile").write_text("FROM demo/base:1.0\nCOPY hello.txt /\nLABEL built=here\n")
    app = Host(lambda: BuildDialog(store))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#build-context", Input).value = str(ctx)
        app.screen.query_one("#ref", Input).value = "demo/built:1"
        await pilot.click("#ok")
        await settle(app, pilot, timeout=SLOW)
        dialog = app.screen
        assert dialog.error == ""
        log = "\n".join(str(line) for line in dialog.query_one(RichLog).lines)
        assert "Step 2/3 : COPY hello.txt /" in log
        assert "Successfully tagged demo/built:1" in log
    built = named(store, "demo/built:1")
    assert dict(store.inspect(built.id).config.labels) == {"built": "here"}


@pytest.mark.engine
async def test_store_build_stop_kills_a_silent_run(
    docker_client, base_image: str, tmp_path: Path
) -> None:
    """Stop during a RUN that prints nothing: the sandbox goes at once, no image is named."""
    archive = tmp_path / "base.tar"
    with archive.open("wb") as out:
        for chunk in docker_client.api.get_image(f"{BASE_REPO}:latest"):
            out.write(chunk)
    backend = BuiltinBackend(tmp_path / "store")
    list(backend.load(archive))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_REPO}:latest\nRUN sleep 300\n")
    before = {i.id for i in backend.images(all=True)}
    app = Host(lambda: BuildDialog(backend))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        dialog = app.screen
        dialog.query_one("#build-context", Input).value = str(ctx)
        dialog.query_one("#ref", Input).value = "imgtui-test/never:1"
        await pilot.click("#ok")
        for _ in range(300):
            await pilot.pause(0.05)
            if any("Step 2/2" in line for line in dialog.log_lines):
                break
        await pilot.pause(1.0)  # the sandbox is up and sleeping
        started = time.monotonic()
        await pilot.click("#cancel")
        await settle(app, pilot, timeout=30)
        assert dialog.cancelled and not dialog.running
    # The worker is marked cancelled at once; its thread kills the sandbox within a poll tick.
    while time.monotonic() - started < 10:
        sleeping = subprocess.run(["pgrep", "-f", "sleep 300"], capture_output=True, text=True)
        if not sleeping.stdout.strip():
            break
        time.sleep(0.1)
    assert sleeping.stdout.strip() == "", "the sandboxed RUN still runs 10 s after Stop"
    assert time.monotonic() - started < 10
    assert {i.id for i in backend.images(all=True)} == before
    backend.close()


async def test_store_commit(store: BuiltinBackend) -> None:
    """A container that never ran commits as docker's does: the same layers, a new image."""
    cid = store.create_container("demo/base:1.0", name="box")
    app = Host(lambda: CommitDialog(store))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        options = app.screen.query_one("#containers", OptionList)
        assert options.option_count == 1 and options.get_option_at_index(0).id == cid
        app.screen.query_one("#ref", Input).value = "demo/box:1"
        await pilot.pause()
        await pilot.click("#ok")
        await settle(app, pilot)
        assert len(app.results) == 1 and str(app.results[0]).startswith("sha256:")
    box = store.inspect("demo/box:1")
    assert box.id == app.results[0]
    assert box.layers == store.inspect("demo/base:1.0").layers


# --------------------------------------------------------------------------- real engine


@pytest.fixture
def engine(docker_host: str, base_image: str) -> Iterator[DockerBackend]:
    backend = DockerBackend(host=docker_host)
    yield backend
    backend.close()


def _drop(docker_client, *refs: str) -> None:
    for ref in refs:
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(ref, force=True)


@pytest.mark.engine
@pytest.mark.registry
async def test_engine_pull_from_local_registry(
    engine: DockerBackend, docker_client, registry: str, tmp_path: Path
) -> None:
    repo = f"{registry}/imgtui-test/pull{uuid.uuid4().hex[:8]}"
    remote = f"{repo}:1"
    # A layer of its own (random bytes), so the pull really downloads something.
    image_id = build_image(
        docker_client,
        tmp_path,
        remote,
        f"FROM {BASE_REPO}:latest\nRUN dd if=/dev/urandom of=/blob bs=1024 count=768\n",
    )
    try:
        for chunk in docker_client.api.push(repo, tag="1", stream=True, decode=True):
            assert "error" not in chunk, chunk
        _drop(docker_client, image_id)
        assert not any(i.id == image_id for i in engine.images())

        app = Host(lambda: PullDialog(engine, remote))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot, timeout=SLOW)
            dialog = app.screen
            assert isinstance(dialog, PullDialog)
            assert dialog.error == ""
            rows = list(dialog.query(LayerRow))
            assert len(rows) >= 2  # the base layer and ours
            statuses = {r.layer_id: r.last.status for r in rows if r.last is not None}
            assert "Pull complete" in statuses.values()
            assert "Already exists" in statuses.values()  # the base is still here
            downloaded = [r for r in rows if r.total and r.total > 100_000]
            assert downloaded, "our layer reported bytes"
            bar = downloaded[0].query_one(ProgressBar)
            assert bar.percentage == 1
            assert any(s.startswith("Digest: sha256:") for s in dialog.status_lines)
            assert f"Status: Downloaded newer image for {remote}" in dialog.status_lines
            await pilot.press("enter")  # Close
            assert app.results == [True]
        assert named(engine, remote).id == image_id
    finally:
        _drop(docker_client, remote, image_id)


@pytest.mark.engine
@pytest.mark.registry
async def test_engine_push_to_local_registry(
    engine: DockerBackend, docker_client, registry: str
) -> None:
    remote = f"{registry}/imgtui-test/push{uuid.uuid4().hex[:8]}:1"
    engine.tag(f"{BASE_REPO}:latest", remote)
    try:
        app = Host(lambda: PushDialog(engine, remote))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert f"uploads to {registry}" in str(app.screen.query_one("#ref-error").render())
            await pilot.click("#ok")
            await settle(app, pilot, timeout=SLOW)
            dialog = app.screen
            assert isinstance(dialog, PushDialog)
            assert dialog.error == ""
            assert dialog.layer_states
            for state in dialog.layer_states.values():
                done = ("Pushed", "Layer already exists")
                assert state.status in done or state.status.startswith("Mounted from"), state
            assert all(r.query_one(ProgressBar).percentage == 1 for r in dialog.query(LayerRow))
            assert any("digest: sha256:" in s for s in dialog.status_lines)
            await pilot.press("escape")
            assert app.results == [True]
    finally:
        _drop(docker_client, remote)


@pytest.mark.engine
async def test_engine_build_streams_the_log(
    engine: DockerBackend, docker_client, tmp_path: Path
) -> None:
    tag = f"imgtui-test/built{uuid.uuid4().hex[:8]}:1"
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE_REPO}:latest\nRUN echo hi\n")
    app = Host(lambda: BuildDialog(engine))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            dialog = app.screen
            assert isinstance(dialog, BuildDialog)
            dialog.query_one("#build-context", Input).value = str(tmp_path)
            dialog.query_one("#ref", Input).value = tag
            dialog.query_one("#build-network", Select).value = "none"  # the engine has none
            dialog.query_one("#build-no-cache").value = True
            await pilot.click("#ok")
            await settle(app, pilot, timeout=SLOW)
            assert dialog.error == ""
            lines = list(dialog.log_lines)
            assert lines[0] == f"Step 1/2 : FROM {BASE_REPO}:latest"
            assert "Step 2/2 : RUN echo hi" in lines
            assert "hi" in lines  # the RUN's own output, streamed
            assert dialog.result is not None
            assert lines[-1] == f"Successfully tagged {tag}"
            assert dialog.query_one("#build-log").lines
            assert dialog.message == f"Built {tag}"
            await pilot.press("escape")
            assert app.results == [True]
        assert named(engine, tag).id == dialog.result.image_id
    finally:
        _drop(docker_client, tag)


@pytest.mark.engine
async def test_engine_build_error_is_shown(engine: DockerBackend, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE_REPO}:latest\nRUN exit 3\n")
    app = Host(lambda: BuildDialog(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        dialog = app.screen
        dialog.query_one("#build-context", Input).value = str(tmp_path)
        dialog.query_one("#build-network", Select).value = "none"
        await pilot.click("#ok")
        await settle(app, pilot, timeout=SLOW)
        assert "returned a non-zero code: 3" in dialog.error
        assert "exit 3" in dialog.error  # which step failed
        assert not dialog.query_one("#ok", Button).disabled  # can try again
        await pilot.press("escape")
        assert app.results == [False]


@pytest.mark.engine
async def test_engine_commit_a_container(engine: DockerBackend, docker_client) -> None:
    container = docker_client.containers.create(
        f"{BASE_REPO}:latest",
        command=["sh", "-c", "echo changed > /changed"],
        network_mode="none",
        name=f"imgtui-commit-{uuid.uuid4().hex[:8]}",
    )
    ref = f"imgtui-test/committed{uuid.uuid4().hex[:8]}:1"
    try:
        container.start()
        container.wait(timeout=60)
        app = Host(lambda: CommitDialog(engine))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot, timeout=SLOW)
            options = app.screen.query_one("#containers", OptionList)
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            options.highlighted = ids.index(container.id)
            app.screen.query_one("#ref", Input).value = ref
            app.screen.query_one("#commit-message", Input).value = "from the dialog"
            await pilot.pause()
            await pilot.click("#ok")
            await settle(app, pilot, timeout=SLOW)
            [image_id] = app.results
        assert isinstance(image_id, str)
        detail = engine.inspect(ref)
        assert detail.id == image_id and detail.comment == "from the dialog"
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        _drop(docker_client, ref)


@pytest.mark.engine
async def test_engine_disk_usage(engine: DockerBackend) -> None:
    app = Host(lambda: DiskUsageScreen(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, timeout=SLOW)
        screen = app.screen
        assert isinstance(screen, DiskUsageScreen)
        assert screen.error == ""
        assert screen.usage is not None
        rows = screen.query_one(UsageBars).rows
        assert len(rows) == len(screen.usage.images) > 0
        assert any(BASE_REPO in r.label for r in rows)
        table = screen.query_one("#df-totals", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(4)] == [
            "Images",
            "Containers",
            "Local Volumes",
            "Build Cache",
        ]
