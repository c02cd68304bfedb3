"""`imgtui load` / `imgtui save` beside `docker load` / `docker save` on one large image.

Usage (as root, from the repository root, with imgtui installed in the running Python):

    python bench/archive_io.py [--runs 5] [--files 20000] [--size-mb 600]

Uses DOCKER_HOST when it is set, else starts a private dockerd (tests/services.py) and stops it at
the end. No network is needed: the image is made on the spot.

The image (3 layers, deterministic content from a fixed seed):
  1. `docker import` of a generated rootfs: static busybox plus --files files (default 20,000)
     holding --size-mb MB (default 600) under /usr/share/bench/dNNN/, 100 files a folder; sizes
     log-normal (median about 9 KB, a few MB at most) plus three 16 MB files; about 85 % of the
     files are pseudo-random bytes (incompressible), the rest slices of generated English-like text;
  2. a Dockerfile COPY of 200 more files (about 20 MB);
  3. a Dockerfile RUN (network none) that deletes two folders (whiteouts) and writes a file.
It is saved once with `docker save`: that archive is the input of every load.

Timed, interleaved over --runs rounds (default 5), min / median / max wall seconds, throughput
(archive size / median) and peak RSS (the command's, from /usr/bin/time -f %M; for docker also the
daemon's, by resetting dockerd's VmHWM through /proc/PID/clear_refs, when this script started it):
  - docker load -i ARCHIVE (the image removed with `docker rmi` before each run);
  - imgtui --store FRESH load -i ARCHIVE (a new empty store each run);
  - docker save -o OUT IMAGE and imgtui --store STORE save -o OUT IMAGE;
  - imgtui load into a store that already holds every blob: of the docker archive, and of the
    archive imgtui itself saved (whose blobs are named by digest, so they can be skipped unread).
Everything runs warm (the archive is in the page cache; 24 GB RAM here) and `sync` runs before
each timed command, so one command's write-back is not billed to the next. imgtui fsyncs every
blob it writes.

Defaults chosen for this 2-core machine (the brief's 20,000 files / 600 MB, 5 runs): making the
image takes about 1 minute (writing the rootfs tar 5 s, docker import 18 s, build 3 s, save and
the warm store 25 s) and each round about 45 seconds, so a default run takes about 4.5 minutes.
Docker keeps what it loads unpacked (overlay2) and re-tars it on save; the built-in store keeps the
layer tars as blobs; so the two do different work for the same command.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import services as svc  # noqa: E402

IMAGE = "bench/archive-io:latest"
BASE = "bench/archive-io-base:latest"
SEED = 20240601
FILES_PER_DIR = 100
TEXT_SHARE = 0.15  # share of files that are compressible text
BIG_FILES = 3  # extra files of BIG_SIZE each, counted in --size-mb
BIG_SIZE = 16 << 20
EXTRA_FILES = 200  # layer 2
EXTRA_BYTES = 20 << 20
DOCKERFILE = """\
FROM {base}
COPY extra/ /opt/extra/
RUN rm -rf /usr/share/bench/d000 /usr/share/bench/d001 && echo built > /etc/bench-build
"""


def _imgtui_command() -> list[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent)) or shutil.which("imgtui")
    return [exe] if exe else [sys.executable, "-m", "imgtui"]


# ---------------------------------------------------------------- content


def _text_corpus(rng: random.Random, size: int) -> bytes:
    """English-like text: words from a small vocabulary, so gzip shrinks it about 3x."""
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    weights = [26 - i for i in range(26)]
    vocab = ["".join(rng.choices(letters, weights, k=rng.randint(2, 9))) for _ in range(3000)]
    out = io.StringIO()
    n = 0
    while n < size:
        line = " ".join(rng.choices(vocab, k=rng.randint(6, 14))) + ".\n"
        out.write(line)
        n += len(line)
    return out.getvalue().encode()[:size]


def _sizes(rng: random.Random, files: int, total: int) -> list[int]:
    """`files` log-normal sizes (median about 8 KB) summing to exactly `total`."""
    raw = [rng.lognormvariate(math.log(8000), 1.5) for _ in range(files)]
    scale = total / sum(raw)
    sizes = [int(r * scale) for r in raw]
    sizes[-1] += total - sum(sizes)
    return sizes


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info)


def _fill(
    tar: tarfile.TarFile, rng: random.Random, corpus: bytes, prefix: str, sizes: list[int]
) -> None:
    for i, size in enumerate(sizes):
        folder = f"{prefix}/d{i // FILES_PER_DIR:03d}"
        if i % FILES_PER_DIR == 0:
            _add_dir(tar, folder)
        if rng.random() < TEXT_SHARE:
            start = rng.randrange(max(1, len(corpus) - size))
            data = (corpus * (1 + size // len(corpus)))[start : start + size]
            _add(tar, f"{folder}/f{i:05d}.txt", data)
        else:
            _add(tar, f"{folder}/f{i:05d}.bin", rng.randbytes(size))


def write_rootfs(path: Path, files: int, total: int) -> None:
    """The base layer: busybox (as in tests/services.py) plus `files` files of `total` bytes."""
    rng = random.Random(SEED)
    corpus = _text_corpus(rng, 4 << 20)
    small_total = max(files, total - BIG_FILES * BIG_SIZE)
    with path.open("wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
        with tarfile.open(fileobj=io.BytesIO(svc.busybox_rootfs_tar())) as base:
            for member in base:
                tar.addfile(member, base.extractfile(member) if member.isfile() else None)
        for d in ("usr", "usr/share", "usr/share/bench", "opt", "opt/big"):
            _add_dir(tar, d)
        _fill(tar, rng, corpus, "usr/share/bench", _sizes(rng, files, small_total))
        for k in range(BIG_FILES):
            _add(tar, f"opt/big/blob{k}.bin", rng.randbytes(BIG_SIZE))


def write_context(folder: Path) -> None:
    """Build context of layers 2 and 3: a Dockerfile and extra/ (COPY)."""
    rng = random.Random(SEED + 1)
    corpus = _text_corpus(rng, 1 << 20)
    (folder / "Dockerfile").write_text(DOCKERFILE.format(base=BASE))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _fill(tar, rng, corpus, "extra", _sizes(rng, EXTRA_FILES, EXTRA_BYTES))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        tar.extractall(folder, filter="data")


def make_image(host: str, work: Path, files: int, total: int) -> None:
    import docker

    client = docker.DockerClient(base_url=host, version="auto", timeout=900)
    try:
        rootfs = work / "rootfs.tar"
        t0 = time.perf_counter()
        write_rootfs(rootfs, files, total)
        t1 = time.perf_counter()
        print(f"rootfs tar: {rootfs.stat().st_size / 1e6:.0f} MB written in {t1 - t0:.1f}s")
        repo, tag = BASE.rsplit(":", 1)
        client.api.import_image(
            src=str(rootfs), repository=repo, tag=tag, changes=['CMD ["sh"]', "ENV PATH=/bin"]
        )
        rootfs.unlink()
        t2 = time.perf_counter()
        print(f"docker import: {t2 - t1:.1f}s")
        context = work / "context"
        context.mkdir()
        write_context(context)
        client.images.build(
            path=str(context), tag=IMAGE, network_mode="none", rm=True, forcerm=True
        )
        shutil.rmtree(context)
        layers = client.api.inspect_image(IMAGE)["RootFS"]["Layers"]
        if len(layers) != 3:
            raise SystemExit(f"{IMAGE} has {len(layers)} layers, not 3")
        print(f"docker build (2 more layers): {time.perf_counter() - t2:.1f}s")
    finally:
        client.close()


# ---------------------------------------------------------------- timing


@dataclass
class Case:
    cmd: list[str]
    size_of: Path  # the archive read or written, for MB/s
    times: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)  # KiB, the child's peak
    daemon_rss: list[int] = field(default_factory=list)  # KiB, dockerd's peak
    size: int = 0


class Daemon:
    """dockerd's peak RSS per command: reset VmHWM (clear_refs 5), run, read VmHWM."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    def reset(self) -> None:
        if self.pid is not None:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak(self) -> int | None:
        if self.pid is None:
            return None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return None


TIME = Path("/usr/bin/time")  # GNU time: -f %M prints the child's peak RSS in KiB


def timed(case: Case, env: dict[str, str], daemon: Daemon | None = None) -> None:
    """One run: sync first, then wall time and the child's peak RSS.

    The RSS comes from /usr/bin/time when it is there. The fallback, wait4's ru_maxrss, is an
    upper bound: the child's high-water mark before exec is this (large) Python process's RSS.
    """
    os.sync()
    if daemon is not None:
        daemon.reset()
    with tempfile.NamedTemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        cmd = [str(TIME), "-f", "%M", "-o", rss.name, *case.cmd] if TIME.exists() else case.cmd
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(case.cmd)} failed:\n{err.read().decode(errors='replace')}")
        peak = int(rss.read().split()[-1]) if TIME.exists() else usage.ru_maxrss
    case.times.append(elapsed)
    case.rss.append(peak)
    if daemon is not None and (daemon_peak := daemon.peak()) is not None:
        case.daemon_rss.append(daemon_peak)
    case.size = case.size_of.stat().st_size


def quiet(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def report(cases: dict[str, Case], runs: int) -> None:
    print(f"\n{runs} runs each, interleaved; wall seconds; MB/s = archive MB / median")
    print(
        f"{'command':44} {'min':>7} {'median':>7} {'max':>7} {'MB/s':>6} "
        f"{'RSS MiB':>8} {'dockerd':>8}"
    )
    for name, c in cases.items():
        med = statistics.median(c.times)
        daemon = f"{max(c.daemon_rss) / 1024:8.0f}" if c.daemon_rss else f"{'-':>8}"
        print(
            f"{name:44} {min(c.times):7.2f} {med:7.2f} {max(c.times):7.2f} "
            f"{c.size / 1e6 / med:6.0f} {max(c.rss) / 1024:8.0f} {daemon}"
        )
    for ours, theirs in (
        ("imgtui load (fresh store)", "docker load"),
        ("imgtui save", "docker save"),
    ):
        ratio = statistics.median(cases[ours].times) / statistics.median(cases[theirs].times)
        print(f"ratio {ours} / {theirs}: {ratio:.2f}x (median)")
    print("RSS MiB: peak of the command's process tree; dockerd: the daemon's peak during it")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--size-mb", type=int, default=600)
    args = ap.parse_args()
    begun = time.perf_counter()

    started = None
    host = os.environ.get("DOCKER_HOST")
    if not host:
        started = svc.start()
        if not started.docker_host:
            raise SystemExit("; ".join(started.errors))
        host = started.docker_host
    work = Path(tempfile.mkdtemp(prefix="imgtui-bench-archive-"))
    env = {**os.environ, "DOCKER_HOST": host}
    env.pop("DOCKER_CONTEXT", None)
    docker = svc.newest_docker_client()
    imgtui = _imgtui_command()
    try:
        make_image(host, work, args.files, args.size_mb * 1_000_000)
        archive = work / "docker.tar"
        quiet([docker, "save", "-o", str(archive), IMAGE], env)
        quiet([docker, "rmi", IMAGE, BASE], env)
        size = archive.stat().st_size
        with tarfile.open(archive) as tar:
            members = sum(1 for _ in tar)
        print(f"input archive (docker save): {size / 1e6:.0f} MB, {members} members")

        # a store holding every blob, and the archive imgtui saves from it
        warm = work / "warm-store"
        own = work / "imgtui.tar"
        quiet([*imgtui, "--store", str(warm), "load", "-i", str(archive)], env)
        quiet([*imgtui, "--store", str(warm), "save", "-o", str(own), IMAGE], env)
        print(f"imgtui-saved archive: {own.stat().st_size / 1e6:.0f} MB")
        print(f"setup took {time.perf_counter() - begun:.0f}s")

        fresh = work / "fresh-store"
        out = work / "out.tar"
        cases = {
            "docker load": Case([docker, "load", "-i", str(archive)], archive),
            "imgtui load (fresh store)": Case(
                [*imgtui, "--store", str(fresh), "load", "-i", str(archive)], archive
            ),
            "imgtui load (blobs present, docker archive)": Case(
                [*imgtui, "--store", str(warm), "load", "-i", str(archive)], archive
            ),
            "imgtui load (blobs present, imgtui archive)": Case(
                [*imgtui, "--store", str(warm), "load", "-i", str(own)], own
            ),
            "docker save": Case([docker, "save", "-o", str(out), IMAGE], out),
            "imgtui save": Case(
                [*imgtui, "--store", str(fresh), "save", "-o", str(out), IMAGE], out
            ),
        }
        pid = started._procs[0].pid if started is not None and started._procs else None
        daemon = Daemon(pid)
        for _ in range(args.runs):  # interleaved, so drift hits every command alike
            timed(cases["docker load"], env, daemon)
            timed(cases["docker save"], env, daemon)
            out.unlink()
            quiet([docker, "rmi", IMAGE], env)
            timed(cases["imgtui load (fresh store)"], env)
            timed(cases["imgtui save"], env)
            out.unlink()
            shutil.rmtree(fresh)
            timed(cases["imgtui load (blobs present, docker archive)"], env)
            timed(cases["imgtui load (blobs present, imgtui archive)"], env)
        report(cases, args.runs)
        print(f"total {time.perf_counter() - begun:.0f}s")
    finally:
        subprocess.run([docker, "rmi", "-f", IMAGE, BASE], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        if started is not None:
            started.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
