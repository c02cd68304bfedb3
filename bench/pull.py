"""`imgtui pull` into the built-in store beside `skopeo copy … oci:DIR` and `docker pull`.

Usage (as root, from the repository root, with imgtui installed in the running Python):

    python bench/pull.py [--size-mb 1024] [--layers 4] [--runs 1]

Starts a Distribution registry on 127.0.0.1 and, unless DOCKER_HOST is set, a private dockerd
(both as tests/services.py does), and stops them at the end. No network beyond loopback.

The image: --layers layers (default 4) of pseudo-random bytes (incompressible), --size-mb MB in
all (default 1024), each a tar of one file, gzip-wrapped at level 0 (gzip framing, no compression
work to dominate), made once in a scratch store and pushed to the registry with `imgtui push`
(that push is timed too). One run of each by default (--runs N: N rounds, order rotated, min /
median / max), every one starting with nothing local (fresh folder, image removed from the
engine), then `sync` and 3 s for the previous clean-up's deletions to settle; the registry's
files are in the page cache for all of them (24 GB RAM here):
  - imgtui --backend builtin --store FRESH pull REF       (hashes, writes direct, fsyncs each blob)
  - skopeo copy --src-tls-verify=false docker://REF oci:FRESH_DIR
  - docker pull REF                                        (also unpacks every layer: more work)
Throughput is the image's compressed size over median wall time; CPU s is the median user + sys
seconds of the command's own process (a fairer figure than wall time when the machine is busy).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import services as svc  # noqa: E402

REPO = "bench/pull"
IMGTUI = "imgtui pull (built-in store)"
SKOPEO = "skopeo copy docker:// oci:DIR"
DOCKER = "docker pull (engine; also unpacks)"


def _imgtui() -> list[str]:
    exe = shutil.which("imgtui", path=str(Path(sys.executable).parent)) or shutil.which("imgtui")
    return [exe] if exe else [sys.executable, "-m", "imgtui"]


def make_image(store_dir: Path, ref: str, size_mb: int, layers: int) -> int:
    """The bench image, written straight into a store; returns its compressed size."""
    from imgtui.store import oci
    from imgtui.store.layout import Store
    from imgtui.store.oci import Descriptor

    store = Store.open(store_dir)
    per_layer = (size_mb << 20) // layers
    descs, diff_ids = [], []
    for i in range(layers):
        data = os.urandom(per_layer)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(f"bench/layer{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        raw = buf.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, compresslevel=0, mtime=0)
        digest, size = store.write_blob(gz)
        descs.append(Descriptor(oci.DOCKER_LAYER_GZIP, digest, size))
    config = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(layers)],
    }
    cdigest, csize = store.write_json_blob(config)
    manifest = oci.Manifest(
        oci.DOCKER_MANIFEST, Descriptor(oci.DOCKER_CONFIG, cdigest, csize), tuple(descs)
    )
    mdigest, msize = store.write_json_blob(manifest.to_json())
    with store.locked() as index:
        index.set_name(ref, Descriptor(oci.DOCKER_MANIFEST, mdigest, msize))
    return sum(d.size for d in descs) + csize


def settle() -> None:
    """Let the last run's deletions and write-back finish (ext4 here is mounted with discard)."""
    subprocess.run(["sync"], check=True)
    time.sleep(3)


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict[str, str] | None = None, label: str = "") -> float:
    """Wall seconds; the command's own CPU seconds (user + sys) go to CPU[label]."""
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(label, []).append(cpu)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--runs", type=int, default=1, help="interleaved rounds (default 1)")
    args = ap.parse_args()

    services = svc.Services()
    services._tmp = Path(tempfile.mkdtemp(prefix="imgtui-bench-pull-"))
    work = services._tmp / "work"
    work.mkdir()
    try:
        svc.start_registry(services, services._tmp)
        host = os.environ.get("DOCKER_HOST")
        if not host:
            svc.start_dockerd(services, services._tmp)
            host = services.docker_host
        assert services.registry and host
        ref = f"{services.registry}/{REPO}:latest"
        t = time.perf_counter()
        size = make_image(work / "src", ref, args.size_mb, args.layers)
        print(f"image made: {size / 1e6:.0f} MB in {time.perf_counter() - t:.1f}s")
        imgtui = _imgtui()
        push = timed([*imgtui, "--backend", "builtin", "--store", str(work / "src"), "push", ref])
        env = {**os.environ, "DOCKER_HOST": host}
        commands = {
            IMGTUI: lambda d: [*imgtui, "--backend", "builtin", "--store", str(d), "pull", ref],
            SKOPEO: lambda d: [
                "skopeo",
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                f"docker://{ref}",
                f"oci:{d}:latest",
            ],
            DOCKER: lambda d: ["docker", "pull", ref],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        settle()
        for run in range(args.runs):
            # rotate the order: no tool always runs right after another's clean-up
            for name in names[run % len(names) :] + names[: run % len(names)]:
                dest = work / f"{name.split()[0]}-{run}"
                times[name].append(timed(commands[name](dest), env, name))
                if name == IMGTUI:
                    check = subprocess.run(
                        [*imgtui, "--backend", "builtin", "--store", str(dest), "fsck"],
                        capture_output=True,
                        text=True,
                    )
                    if check.returncode != 0:
                        raise SystemExit(f"fsck of the pulled store failed: {check.stdout}")
                shutil.rmtree(dest, ignore_errors=True)
                subprocess.run(["docker", "rmi", "-f", ref], env=env, capture_output=True)
                settle()

        mb = size / 1e6
        print(f"\nimage {mb:.0f} MB compressed, {args.layers} layers; {args.runs} run(s) each")
        print(f"imgtui push (built-in store -> registry): {push:.2f}s, {mb / push:.0f} MB/s")
        print(f"{'command':<40} {'min s':>7} {'median s':>9} {'max s':>7} {'MB/s':>6} {'CPU s':>6}")
        for name, ts in times.items():
            med = statistics.median(ts)
            # docker's work happens in dockerd, not in the client the script runs
            cpu = "n/a" if name == DOCKER else f"{statistics.median(CPU[name]):.2f}"
            print(
                f"{name:<40} {min(ts):>7.2f} {med:>9.2f} {max(ts):>7.2f} {mb / med:>6.0f} {cpu:>6}"
            )
        ratio = statistics.median(times[SKOPEO]) / statistics.median(times[IMGTUI])
        print(f"\nimgtui pull throughput / skopeo's (medians): {ratio:.2f}x")
        print("fsck of every store imgtui pulled into: ok")
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
