"""Writing a blob durably: buffered writes + fsync beside `BlobFile` (O_DIRECT), same bytes.

Usage (from the repository root, with imgtui importable):

    python bench/blob_write.py [--size-mb 1024] [--dir DIR] [--runs 3]

Why it exists: a pull spent half its samples in the kernel copying bytes into page-cache pages
(see BENCHMARKS.md, "Registry pull"); this isolates that cost from the network and the registry.
Each run writes --size-mb of random bytes in 1 MiB pieces to a fresh file in DIR (default: a
temporary folder on the same filesystem as the default store) and fsyncs it; `sync` and 1 s of
settling before each. Prints wall, user and system seconds per mode, min / median / max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from imgtui.store.blobfile import CHUNK, BlobFile


def buffered(path: Path, piece: bytes, size: int) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(size // len(piece)):
            os.write(fd, piece)
        os.fsync(fd)
    finally:
        os.close(fd)
    return "buffered"


def blobfile(path: Path, piece: bytes, size: int) -> str:
    """Returns the mode BlobFile chose here: direct, or buffered where O_DIRECT is refused."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        out = BlobFile(fd, str(path), 0, size)
        for _ in range(size // len(piece)):
            out.space()[:] = piece  # from offset 0 the buffer is empty after every full write
            out.commit(len(piece))
        out.flush()
        mode = "direct" if out.dfd is not None else "buffered (O_DIRECT refused)"
        out.close()
        os.fsync(fd)
    finally:
        os.close(fd)
    return mode


def measure(
    fn: Callable[[Path, bytes, int], str], folder: Path, size: int
) -> tuple[float, float, float, str]:
    piece = os.urandom(CHUNK)
    path = folder / "blob"
    path.unlink(missing_ok=True)
    subprocess.run(["sync"], check=False)
    time.sleep(1)
    t0, c0 = time.perf_counter(), os.times()
    mode = fn(path, piece, size)
    t1, c1 = time.perf_counter(), os.times()
    path.unlink()
    return t1 - t0, c1.user - c0.user, c1.system - c0.system, mode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    size = args.size_mb * CHUNK
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="blob-write-") as tmp:
        folder = Path(tmp)
        results: dict[str, list[tuple[float, float, float, str]]] = {
            "buffered + fsync": [],
            "BlobFile": [],
        }
        for r in range(args.runs):
            order = list(results) if r % 2 == 0 else list(reversed(results))
            for name in order:
                fn = buffered if name == "buffered + fsync" else blobfile
                results[name].append(measure(fn, folder, size))
        print(f"{args.size_mb} MiB in 1 MiB pieces, fsync at the end, {args.runs} run(s) each")
        print(f"BlobFile mode here: {results['BlobFile'][-1][3]}")
        print(f"{'writer':<18}{'min s':>8}{'median s':>10}{'max s':>8}{'user s':>8}{'sys s':>8}")
        for name, runs in results.items():
            walls = [run[0] for run in runs]
            user = statistics.median(run[1] for run in runs)
            sys_ = statistics.median(run[2] for run in runs)
            print(
                f"{name:<18}{min(walls):>8.2f}{statistics.median(walls):>10.2f}"
                f"{max(walls):>8.2f}{user:>8.2f}{sys_:>8.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
