"""`imgtui build` into the built-in store beside `docker build` (classic builder), same context.

Usage (as root, from the repository root, with imgtui installed in the running Python):

    python bench/build.py [--files 5000] [--size-mb 200] [--runs 3]

Starts a private dockerd (as tests/services.py does; never the default socket) unless
DOCKER_HOST is set, and stops it at the end. No network.

The context: --files files (default 5,000) of pseudo-random bytes (incompressible), --size-mb MB
in all (default 200), spread over 50 folders, plus a Dockerfile:

    FROM scratch
    COPY . /data/
    LABEL bench=build

Four figures, each the median of --runs rounds (wall time of the command, end to end):
  - imgtui cold:      a fresh store, empty build cache (hashes, copies and tars every file)
  - imgtui unchanged: the same build again in that store (every step ` ---> Using cache`)
  - docker cold:      DOCKER_BUILDKIT=0 docker build --no-cache (the CLI tars and sends the
                      context; the daemon copies it into a layer)
  - docker unchanged: the same build again, cache allowed
The page cache holds the context for all of them (it is read once before the first run).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import services as svc  # noqa: E402

DOCKERFILE = "FROM scratch\nCOPY . /data/\nLABEL bench=build\n"
TAG = "bench/build:latest"


def _imgtui() -> list[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent)) or shutil.which("imgtui")
    return [exe] if exe else [sys.executable, "-m", "imgtui"]


def make_context(dest: Path, files: int, size_mb: int) -> int:
    """The bench context; returns its size in bytes."""
    rng = random.Random(5000)
    dest.mkdir(parents=True)
    (dest / "Dockerfile").write_text(DOCKERFILE)
    total = size_mb * 1_000_000
    block = rng.randbytes(1 << 20)
    written = 0
    for i in range(files):
        size = total // files
        folder = dest / f"d{i % 50:02d}"
        folder.mkdir(exist_ok=True)
        start = rng.randrange(0, len(block) - size) if size < len(block) else 0
        data = (block * (size // len(block) + 1))[start : start + size]
        # every file different: a counter in front
        (folder / f"f{i:05d}.bin").write_bytes(i.to_bytes(8, "big") + data[8:])
        written += size
    # files older than the racy window, as a checkout would be
    old = time.time() - 60
    for path in dest.rglob("*"):
        os.utime(path, (old, old))
    return written


def timed(cmd: list[str], env: dict[str, str], check_cached: bool = False) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    if check_cached and "Using cache" not in proc.stdout:
        raise SystemExit(f"{' '.join(cmd)}: the rebuild did not use the cache:\n{proc.stdout}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    services = svc.Services()
    services._tmp = Path(tempfile.mkdtemp(prefix="imgtui-bench-build-"))
    work = services._tmp / "work"
    try:
        host = os.environ.get("DOCKER_HOST")
        if not host:
            svc.start_dockerd(services, services._tmp)
            host = services.docker_host
        assert host
        context = work / "context"
        size = make_context(context, args.files, args.size_mb)
        subprocess.run(["cat", *map(str, context.rglob("*.bin"))], stdout=subprocess.DEVNULL)
        env = {**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"}
        env.pop("DOCKER_CONTEXT", None)
        imgtui = _imgtui()
        rows: dict[str, list[float]] = {
            "imgtui cold": [],
            "imgtui unchanged": [],
            "docker cold": [],
            "docker unchanged": [],
        }
        for run in range(args.runs):
            store = work / f"store-{run}"
            build = [*imgtui, "--backend", "builtin", "--store", str(store), "build", "-t", TAG]
            rows["imgtui cold"].append(timed([*build, str(context)], env))
            rows["imgtui unchanged"].append(timed([*build, str(context)], env, True))
            shutil.rmtree(store)
            docker = ["docker", "build", "-t", TAG]
            rows["docker cold"].append(timed([*docker, "--no-cache", str(context)], env))
            rows["docker unchanged"].append(timed([*docker, str(context)], env, True))
        subprocess.run(["docker", "rmi", "-f", TAG], env=env, capture_output=True)

        print(f"\ncontext: {args.files} files, {size / 1e6:.0f} MB; {args.runs} run(s) each")
        print(f"{'build':<20} {'min s':>7} {'median s':>9} {'max s':>7}")
        for name, ts in rows.items():
            print(f"{name:<20} {min(ts):>7.2f} {statistics.median(ts):>9.2f} {max(ts):>7.2f}")
        ours = statistics.median(rows["imgtui unchanged"])
        theirs = statistics.median(rows["docker unchanged"])
        print(
            f"\nunchanged rebuild: imgtui {ours:.2f}s vs docker {theirs:.2f}s "
            f"({theirs / ours:.1f}x)"
        )
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
