"""`imgtui run` / `rm` on a daemon: output, exit code and removal as `docker run` gives them."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import BASE_REPO

pytestmark = pytest.mark.engine


def test_run_prints_output_and_returns_the_exit_code(imgtui_cli, base_image: str) -> None:
    done = imgtui_cli(
        "run", "--rm", f"{BASE_REPO}:latest", "sh", "-c", "echo hi; exit 3", check=False
    )
    assert (done.returncode, done.stdout) == (3, "hi\n"), done.stderr


def test_run_keeps_the_container_until_rm(imgtui_cli, docker_client, base_image: str) -> None:
    name = f"imgtui-run-{uuid.uuid4().hex[:8]}"
    done = imgtui_cli("run", "--name", name, f"{BASE_REPO}:latest", "true", check=False)
    assert done.returncode == 0, done.stderr
    assert name in imgtui_cli("ps", "-a").stdout
    removed = imgtui_cli("rm", name, check=False)
    assert (removed.returncode, removed.stdout) == (0, f"{name}\n"), removed.stderr
    assert not docker_client.containers.list(all=True, filters={"name": name})
    again = imgtui_cli("rm", name, check=False)
    assert again.returncode == 1 and "No such container" in again.stderr
    interactive = imgtui_cli("run", "-it", f"{BASE_REPO}:latest", check=False)
    assert interactive.returncode != 0 and "docker run -it" in interactive.stderr
