"""`imgtui images` beside `docker images` on the same engine with 1,000 tags, in one run.

Usage (as root, from the repository root, with imgtui installed in the running Python):

    python bench/images_list.py [--tags 1000] [--images 100] [--runs 15]

Uses DOCKER_HOST when it is set, else starts a private dockerd (tests/services.py) and stops it at
the end. Prints min / median / max wall time per command and imgtui's ratio to docker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import services as svc  # noqa: E402


def _imgtui_command() -> list[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent)) or shutil.which("imgtui")
    return [exe] if exe else [sys.executable, "-m", "imgtui"]


def populate(host: str, images: int, tags: int) -> None:
    """`images` distinct images carrying `tags` tags in all (docker import of tiny rootfs tars)."""
    import docker

    client = docker.APIClient(base_url=host, version="auto", timeout=300)
    have = {t for i in client.images() for t in (i.get("RepoTags") or ())}
    per_image = max(1, tags // images)
    made = 0
    for n in range(images):
        repo = f"bench/app{n:04d}"
        wanted = [f"{repo}:v{k}" for k in range(per_image)]
        if all(w in have for w in wanted):
            made += len(wanted)
            continue
        tar = svc.busybox_rootfs_tar({"etc/bench-id": f"{n}\n".encode()})
        client.import_image_from_data(tar, repository=repo, tag="v0")
        for k in range(1, per_image):
            client.tag(f"{repo}:v0", repo, f"v{k}")
        made += per_image
    client.close()
    print(f"engine holds {made} bench tags on {images} images")


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    started = None
    host = os.environ.get("DOCKER_HOST")
    if not host:
        started = svc.start()
        if not started.docker_host:
            raise SystemExit("; ".join(started.errors))
        host = started.docker_host
    try:
        populate(host, args.images, args.tags)
        env = {**os.environ, "DOCKER_HOST": host}
        docker = svc.newest_docker_client()
        commands = {
            "docker images": [docker, "images"],
            "imgtui images": [*_imgtui_command(), "images"],
            "docker images --format json": [docker, "images", "--format", "{{json .}}"],
            "imgtui images --format json": [*_imgtui_command(), "images", "--format", "json"],
        }
        for cmd in commands.values():  # warm the page cache and the daemon
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved, so drift hits every command alike
            for name, cmd in commands.items():
                results[name] += timed(cmd, env, 1)
        rows = sum(1 for _ in subprocess.run(
            commands["imgtui images"], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()) - 1  # fmt: skip
        print(f"{rows} rows listed; {args.runs} runs each; wall seconds")
        print(f"{'command':32} {'min':>7} {'median':>7} {'max':>7}")
        for name, times in results.items():
            print(f"{name:32} {min(times):7.3f} {statistics.median(times):7.3f} {max(times):7.3f}")
        for fmt_name in ("", " --format json"):
            ours = statistics.median(results[f"imgtui images{fmt_name}"])
            theirs = statistics.median(results[f"docker images{fmt_name}"])
            print(f"ratio imgtui/docker{fmt_name or ' (table)'}: {ours / theirs:.2f}x (median)")
    finally:
        if started is not None:
            started.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
