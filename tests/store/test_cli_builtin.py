"""The CLI on the built-in store, as a newcomer without Docker would use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgtui.backends.docker_endpoint import DEFAULT_HOST
from imgtui.backends.docker_http import LeanDockerClient


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "IMGTUI_"))}
    env["HOME"] = str(tmp_path / "home")  # no docker config, no platform data of the user's
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env.update(extra)
    return env


def imgtui(tmp_path: Path, *args: str, check: bool = True, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "imgtui", *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        check=check,
    )


@pytest.fixture
def demo_store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    out = imgtui(tmp_path, "--store", str(store), "demo").stdout
    assert "Loaded image: demo/" in out
    return store


def test_demo_then_images(tmp_path: Path, demo_store: Path) -> None:
    listed = imgtui(tmp_path, "--store", str(demo_store), "images").stdout.splitlines()
    assert listed[0].split()[:2] == ["REPOSITORY", "TAG"]
    repos = {line.split()[0] for line in listed[1:]}
    assert {"demo/base", "demo/web"} <= repos
    assert "<none>" in repos  # the dangling one
    rows = [
        json.loads(line)
        for line in imgtui(
            tmp_path, "--store", str(demo_store), "images", "--format", "json"
        ).stdout.splitlines()
    ]
    assert len(rows) == len(listed) - 1
    assert all(r["Size"].endswith("B") for r in rows)


def test_history_inspect_dockerfile_df_fsck(tmp_path: Path, demo_store: Path) -> None:
    s = ["--store", str(demo_store)]
    history = imgtui(tmp_path, *s, "history", "demo/web:1.2").stdout
    assert history.splitlines()[0].split()[:2] == ["IMAGE", "CREATED"]
    inspected = json.loads(imgtui(tmp_path, *s, "inspect", "demo/web:1.2").stdout)
    assert inspected[0]["Id"].startswith("sha256:")
    assert "demo/web:1.2" in inspected[0]["RepoTags"]
    assert "FROM" in imgtui(tmp_path, *s, "dockerfile", "demo/web:1.2").stdout
    df = imgtui(tmp_path, *s, "df", "-v").stdout
    assert "SHARED SIZE" in df and "demo/web" in df
    assert imgtui(tmp_path, *s, "fsck").stdout.strip().endswith(": ok")


def test_tag_rmi_prune_round(tmp_path: Path, demo_store: Path) -> None:
    s = ["--store", str(demo_store)]
    assert imgtui(tmp_path, *s, "tag", "demo/web:1.2", "mine/web:x").stdout == ""
    assert imgtui(tmp_path, *s, "rmi", "mine/web:x").stdout == "Untagged: mine/web:x\n"
    pruned = imgtui(tmp_path, *s, "prune", "-f").stdout
    assert pruned.startswith("Deleted Images:\ndeleted: sha256:")
    assert "Total reclaimed space:" in pruned
    again = imgtui(tmp_path, *s, "prune", "-f").stdout
    assert again == "Total reclaimed space: 0B\n"
    assert imgtui(tmp_path, *s, "fsck").stdout.strip().endswith(": ok")


def test_errors_on_the_store(tmp_path: Path, demo_store: Path) -> None:
    s = ["--store", str(demo_store)]
    missing = imgtui(tmp_path, *s, "rmi", "nope:1", check=False)
    assert (missing.returncode, missing.stderr) == (1, "Error: No such image: nope:1\n")
    bad = imgtui(tmp_path, *s, "tag", "demo/web:1.2", "Bad:Name", check=False)
    assert bad.returncode == 2 and "must be lowercase" in bad.stderr
    # nothing listens on port 1: the registry client says so in one line (no Hub, no network)
    unreachable = imgtui(tmp_path, *s, "pull", "127.0.0.1:1/imgtui-test/x:v1", check=False)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("Error: cannot reach registry 127.0.0.1:1")
    assert len(unreachable.stderr.splitlines()) == 1
    blocked = tmp_path / "file"
    blocked.write_text("x")
    res = imgtui(tmp_path, "--store", str(blocked / "store"), "images", check=False)
    assert res.returncode == 1 and res.stderr.startswith("Error: cannot open the store at")


def test_auto_uses_the_store_when_no_daemon_answers(tmp_path: Path) -> None:
    try:
        LeanDockerClient(DEFAULT_HOST, 1.0).get_json("/_ping")
        local_daemon = True
    except Exception:
        local_daemon = False
    store = tmp_path / "auto-store"
    info = imgtui(tmp_path, "info", IMGTUI_STORE=str(store)).stdout
    if local_daemon:
        assert "Backend:   docker" in info
    else:
        assert "Backend:   builtin" in info
        assert f"Location:  {store}" in info
        assert (store / "oci-layout").is_file()


def test_default_store_follows_the_platform_data_folder(tmp_path: Path) -> None:
    info = imgtui(tmp_path, "--backend", "builtin", "info").stdout
    assert f"Location:  {tmp_path / 'data' / 'imgtui' / 'store'}" in info


def test_save_load_keeps_the_original_dockerfile(tmp_path: Path, demo_store: Path) -> None:
    """demo/worker carries its Dockerfile as a blob; it must travel through save and load."""
    archive = tmp_path / "worker.tar"
    imgtui(tmp_path, "--store", str(demo_store), "save", "-o", str(archive), "demo/worker:dev")
    fresh = tmp_path / "fresh"
    out = imgtui(tmp_path, "--store", str(fresh), "load", "-i", str(archive)).stdout
    assert out == "Loaded image: demo/worker:dev\n"
    assert imgtui(tmp_path, "--store", str(fresh), "fsck").stdout.strip().endswith(": ok")
    from imgtui.store import oci
    from imgtui.store.layout import Store

    store = Store.open(fresh)
    entry = store.read_index().get("docker.io/demo/worker:dev")
    assert entry is not None
    dockerfile = store.read_manifest(entry.digest).annotations[oci.DOCKERFILE_ANNOTATION]
    assert b"FROM" in store.read_blob(dockerfile)


def test_dockerfile_shows_the_original_when_the_store_has_it(
    tmp_path: Path, demo_store: Path
) -> None:
    s = ["--store", str(demo_store)]
    original = imgtui(tmp_path, *s, "dockerfile", "demo/worker:dev").stdout
    assert "reconstructed" not in original.lower() and original.startswith(("#", "FROM", "ARG"))
    rebuilt = imgtui(tmp_path, *s, "dockerfile", "demo/web:1.2").stdout
    assert "reconstructed" in rebuilt.lower()
