"""The registry browser on the loopback Distribution registry: list, look, pull, mark outdated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from imgtui.app import ImgtuiApp
from imgtui.backends.base import ImageSummary
from imgtui.backends.builtin import BuiltinBackend
from imgtui.registry import browse
from imgtui.screens.dialogs import PullDialog
from imgtui.screens.registry import OUTDATED, SAME, UNKNOWN, RegistryScreen, local_state
from imgtui.widgets.dockerfile_view import DockerfileView
from imgtui.widgets.history_view import HistoryView
from tests.conftest import BASE_REPO, build_image
from tests.tui.waiting import settle, until

SLOW = 120


def _image(tags: tuple[str, ...], digests: tuple[str, ...]) -> ImageSummary:
    return ImageSummary(
        id="sha256:" + "1" * 64,
        repo_tags=tags,
        repo_digests=digests,
        created=datetime(2026, 1, 1, tzinfo=timezone.utc),
        size=1,
    )


D1, D2 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_local_state_compares_the_repo_digest() -> None:
    repo = "localhost:5000/team/app"
    pulled = _image((f"{repo}:1",), (f"{repo}@{D1}",))
    built = _image((f"{repo}:2",), ())
    elsewhere = _image((f"{repo}:3",), (f"other.io/team/app@{D2}",))
    images = [pulled, built, elsewhere]
    assert local_state(images, repo, "1", D1) == SAME
    assert local_state(images, repo, "1", D2) == OUTDATED
    assert local_state(images, repo, "2", D1) == UNKNOWN
    assert local_state(images, repo, "3", D1) == UNKNOWN  # digests of another repo say nothing
    assert local_state(images, repo, "4", D1) == ""
    hub = _image(("busybox:latest",), (f"busybox@{D1}",))
    assert local_state([hub], "docker.io/library/busybox", "latest", D1) == SAME


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def pushed(
    docker_client, base_image: str, registry: str, tmp_path_factory
) -> Iterator[tuple[str, str]]:
    """Two tags of a fresh repository in the loopback registry: (repository, its path)."""
    path = f"imgtui-test/browse{uuid.uuid4().hex[:8]}"
    repo = f"{registry}/{path}"
    tmp = tmp_path_factory.mktemp("browse")
    for tag in ("1.0", "2.0"):
        build_image(
            docker_client,
            _dir(tmp / tag),
            f"{repo}:{tag}",
            f"FROM {BASE_REPO}:latest\nRUN echo {tag} > /version\nENV VERSION={tag}\n",
        )
        for chunk in docker_client.api.push(repo, tag=tag, stream=True, decode=True):
            assert "error" not in chunk, chunk
    yield repo, path
    for tag in ("1.0", "2.0"):
        docker_client.api.remove_image(f"{repo}:{tag}", force=True)


@pytest.mark.engine
@pytest.mark.registry
async def test_browse_look_and_pull_into_the_store(
    pushed: tuple[str, str], registry: str, tmp_path: Path
) -> None:
    repo, path = pushed
    backend = BuiltinBackend(tmp_path / "store")
    app = ImgtuiApp(backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RegistryScreen)
        assert app.focused is screen.query_one("#host", Input)  # no host to guess from
        await pilot.press(*registry, "enter")
        repos = screen.query_one("#reg-repos", DataTable)
        await until(pilot, lambda: repos.row_count > 0, "the catalog", timeout=30)
        keys = [k.value for k in repos.rows]
        assert path in keys
        repos.move_cursor(row=keys.index(path))
        repos.focus()
        await pilot.press("enter")
        tags = screen.query_one("#reg-tags", DataTable)
        await until(pilot, lambda: tags.row_count == 2, "the tags", timeout=30)
        rows = {r.tag: r for r in browse.tags(registry, path)}
        assert [str(tags.get_row_at(i)[0]) for i in range(2)] == ["1.0", "2.0"]
        assert str(tags.get_row_at(0)[1]) == rows["1.0"].digest.removeprefix("sha256:")[:12]
        assert str(tags.get_row_at(0)[5]) == ""  # not local
        # the highlighted tag's history and Dockerfile, read without pulling
        history = screen.query_one(HistoryView)
        remote = browse.remote_image(f"{repo}:1.0")
        await until(pilot, lambda: history.row_count == len(remote.history), "history", 30)
        dockerfile = screen.query_one(DockerfileView)
        assert "ENV VERSION=1.0" in dockerfile.text
        config = str(screen.query_one("#reg-config", Static).render())
        assert remote.manifest_digest in config
        assert backend.images() == []  # looking pulled nothing
        # pull it: the usual dialog, prefilled
        await pilot.press("p")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, PullDialog)
        assert dialog.query_one("#ref", Input).value == f"{repo}:1.0"
        await pilot.press("enter")
        await settle(app, pilot, timeout=SLOW)
        assert dialog.error == ""
        await pilot.press("enter")  # Close
        await settle(app, pilot)
        assert app.screen is screen
        await until(pilot, lambda: str(tags.get_row_at(0)[5]) == SAME, "the ✓", timeout=30)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, RegistryScreen)
        assert any(f"{repo}:1.0" in i.repo_tags for i in backend.images())
    backend.close()


@pytest.mark.engine
@pytest.mark.registry
async def test_outdated_tag_is_marked(pushed: tuple[str, str], registry: str, tmp_path) -> None:
    """A local tag recorded with another digest than the registry's now: "outdated"."""
    repo, path = pushed
    backend = BuiltinBackend(tmp_path / "store")
    list(backend.pull(f"{repo}:1.0"))
    backend.tag(f"{repo}:1.0", f"{repo}:2.0")  # our 2.0 is the registry's 1.0
    app = ImgtuiApp(backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        table = app.main_screen.table
        table.move_cursor(row=next(n for n, r in enumerate(table.rows) if r.tag == "2.0"))
        await pilot.press("R")  # the host comes from the highlighted image's name
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RegistryScreen)
        assert screen.query_one("#host", Input).value == registry
        await pilot.press("slash", *path, "enter")
        tags = screen.query_one("#reg-tags", DataTable)
        await until(pilot, lambda: tags.row_count == 2, "the tags", timeout=30)
        states = {str(tags.get_row_at(i)[0]): str(tags.get_row_at(i)[5]) for i in range(2)}
        assert states == {"1.0": SAME, "2.0": OUTDATED}
        status = str(screen.query_one("#reg-status", Static).render())
        assert "1 local tag(s) outdated" in status
    backend.close()


async def test_unreachable_registry_says_so(tmp_path: Path) -> None:
    backend = BuiltinBackend(tmp_path / "store")
    app = ImgtuiApp(backend)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        await pilot.press(*"127.0.0.1:1", "enter")
        screen = app.screen
        status = screen.query_one("#reg-status", Static)
        await until(
            pilot,
            lambda: "127.0.0.1:1" in str(status.render()) and "No catalog" in str(status.render()),
            "the error",
            timeout=30,
        )
        assert "cannot reach registry 127.0.0.1:1" in str(status.render())
    backend.close()
