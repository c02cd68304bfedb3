"""Fault tests: store operations killed with SIGKILL at random points, and run concurrently.

After every kill the store must still be consistent (fsck finds nothing missing, corrupt or
broken; orphans and temp files are allowed), index.json must parse, and every name the killed
operation did not touch must still point at the same manifest. Timings are random, so each test
runs as many kills as fit its time budget; the seed is in every failure message.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgtui.store import gc
from imgtui.store.layout import Store
from tests.store.fault_worker import own_layer, shared_layer
from tests.store.helpers import add_image, index_parses, layer_tar, names, write_orphan

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 9.0  # seconds of kills per operation
MIN_KILLS = 15
CLI_BUDGET = 6.0  # the real CLI starts slower: fewer, longer runs
CLI_MIN_KILLS = 6
SEED = int(os.environ.get("IMGTUI_FAULT_SEED", random.randrange(1 << 30)))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store with a few named images (some with two names, shared layers) and a dangling one."""
    s = Store.open(tmp_path / "store")
    for k in range(6):
        desc = add_image(
            s,
            f"docker.io/base/img{k}:1",
            [shared_layer(k % 3), layer_tar({f"img{k}": f"{k}".encode() * 500})],
        )
        if k % 2 == 0:
            with s.locked() as index:
                index.set_name(f"docker.io/base/img{k}:latest", desc)
    add_image(s, None, [layer_tar({"dangling": b"d"})])
    return s


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


def spawn(op: str, store: Store, prefix: str, seed: int, n: int | None = None) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "tests.store.fault_worker",
        op,
        str(store.root),
        prefix,
        str(seed),
    ]
    if n is not None:
        args.append(str(n))
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if line != "ready\n":
        p.kill()
        _, err = p.communicate()
        pytest.fail(f"{op} worker did not start: {line!r} {err}")
    return p


def kill_after(p: subprocess.Popen, delay: float) -> bool:
    """SIGKILL after `delay` seconds; False if the worker had already finished cleanly."""
    time.sleep(delay)
    p.kill()
    _, err = p.communicate()
    if p.returncode == -9:
        return True
    assert p.returncode == 0, f"worker failed (seed {SEED}): {err}"
    return False


def assert_consistent(
    store: Store, before: dict[str, str], touched: str | tuple[str, ...], what: str
) -> None:
    """fsck clean, index.json parses, and names outside `touched` unchanged."""
    index_parses(store)
    report = gc.fsck(store)
    assert not (report.missing or report.corrupt or report.problems), (
        f"{what} (seed {SEED}): missing {report.missing}, corrupt {report.corrupt},"
        f" problems {report.problems}"
    )
    after = names(store)
    for name, digest in before.items():
        if not name.startswith(touched):
            assert after.get(name) == digest, f"{what} (seed {SEED}): {name} lost or moved"
    appeared = {n for n in after if n not in before and not n.startswith(touched)}
    assert not appeared, f"{what} (seed {SEED}): names appeared: {appeared}"


def kill_loop(budget: float, minimum: int = MIN_KILLS) -> Iterator[int]:
    """Iteration numbers until the budget is spent (and at least `minimum` of them)."""
    deadline = time.monotonic() + budget
    i = 0
    while i < minimum or time.monotonic() < deadline:
        yield i
        i += 1


def test_kill_during_load(store: Store, rng: random.Random) -> None:
    kills = 0
    for i in kill_loop(BUDGET):
        prefix = f"load{i}"
        before = names(store)
        p = spawn("load", store, prefix, rng.randrange(1 << 30))
        kills += kill_after(p, rng.uniform(0, 0.25))
        assert_consistent(store, before, f"docker.io/{prefix}/", f"load kill {i}")
    print(f"\nload: {i + 1} runs, {kills} killed mid-way, seed {SEED}")
    assert gc.fsck(store, repair=True).ok


def test_kill_during_untag_and_rmi(store: Store, rng: random.Random) -> None:
    kills = 0
    base = names(store)
    for i in kill_loop(BUDGET):
        prefix = f"victim{i}"
        with store.locked() as index:  # extra names on the base images, sharing their manifests
            for n, digest in base.items():
                if rng.random() < 0.5:
                    desc = index.named()[n].descriptor
                    assert desc.digest == digest
                    index.set_name(f"docker.io/{prefix}/{n.rsplit('/', 1)[1]}", desc)
        for j in range(6):  # and images only victims name
            add_image(store, f"docker.io/{prefix}/own:{j}", [own_layer(prefix, j)])
        before = names(store)
        p = spawn("untag", store, prefix, rng.randrange(1 << 30))
        kills += kill_after(p, rng.uniform(0, 0.12))
        assert_consistent(store, before, f"docker.io/{prefix}/", f"untag kill {i}")
    print(f"\nuntag/rmi: {i + 1} runs, {kills} killed mid-way, seed {SEED}")


def test_kill_during_prune(store: Store, rng: random.Random) -> None:
    kills = mid_sweep = 0
    for i in kill_loop(BUDGET):
        orphans = [write_orphan(store, f"orphan {i} {j}".encode()) for j in range(300)]
        for j in range(3):
            add_image(store, None, [layer_tar({f"dangling{i}": f"{j}".encode()})])
        (store.tmp / f"blob-killed{i}").write_bytes(b"partial")
        before = names(store)
        p = spawn("prune", store, "none", rng.randrange(1 << 30))
        kills += kill_after(p, rng.uniform(0, 0.03))
        left = sum(store.has_blob(d) for d in orphans)
        mid_sweep += 0 < left < len(orphans)
        assert_consistent(store, before, "\0", f"prune kill {i}")
        with store.locked() as index:  # a sweep after a killed one finishes its work
            gc.sweep(store, index)
        assert not any(store.has_blob(d) for d in orphans)
    print(f"\nprune: {i + 1} runs, {kills} killed, {mid_sweep} in mid-deletion, seed {SEED}")


def test_untag_or_retag_touches_only_its_own_name(store: Store) -> None:
    """The deterministic core of the kill tests: names of one manifest are separate entries."""
    before = names(store)
    other = before["docker.io/base/img1:1"]
    with store.locked() as index:
        desc = index.named()["docker.io/base/img0:1"].descriptor
        index.set_name("docker.io/extra/a:1", desc)
        index.set_name("docker.io/extra/b:1", desc)
    with store.locked() as index:
        index.remove_name("docker.io/extra/a:1")
        index.set_name("docker.io/extra/b:1", index.named()["docker.io/base/img1:1"].descriptor)
    assert names(store) == {**before, "docker.io/extra/b:1": other}


def test_concurrent_taggers_lose_no_tag(store: Store, rng: random.Random) -> None:
    before = names(store)
    workers = [spawn("tagger", store, f"c{k}", rng.randrange(1 << 30), 12) for k in range(4)]
    expected: dict[str, str] = {}
    for p in workers:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        expected.update(json.loads(out))
    after = names(store)
    mine = {n: d for n, d in after.items() if n.startswith(("docker.io/c0/", "docker.io/c1/"))}
    mine |= {n: d for n, d in after.items() if n.startswith(("docker.io/c2/", "docker.io/c3/"))}
    assert mine == expected, f"seed {SEED}"
    assert {n: d for n, d in after.items() if n.startswith("docker.io/base/")} == before
    assert gc.fsck(store).ok


def test_concurrent_loads_and_prunes_keep_every_blob(store: Store, rng: random.Random) -> None:
    # Blobs the loaders will write, already present as orphans: a loader reuses them by digest
    # and a prune running meanwhile must not take them away.
    for k in range(2):
        for i in range(0, 30, 2):
            write_orphan(store, own_layer(f"l{k}", i))
    before = names(store)
    loaders = [spawn("load", store, f"l{k}", rng.randrange(1 << 30), 30) for k in range(2)]
    pruner = spawn("prune", store, "none", 0)
    expected: dict[str, str] = {}
    for p in loaders:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        expected.update(json.loads(out))
    assert kill_after(pruner, 0), "the pruner loops until killed"
    after = names(store)
    assert {n: after.get(n) for n in expected} == expected, f"seed {SEED}"
    assert {n: after[n] for n in before} == before
    report = gc.fsck(store)
    assert report.ok, report
    with store.locked() as index:
        gc.sweep(store, index)
    assert gc.fsck(store) == gc.FsckReport((), (), (), (), ())


# ------------------------------------------------------------------------------- the real CLI

ARCHIVE_NAMES = ("docker.io/demo/web:1.2", "docker.io/demo/api:2.0", "docker.io/demo/data:3.1")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `docker save`-style archive of three demo images (about 10 MB), made by imgtui itself."""
    folder = tmp_path_factory.mktemp("archive")
    source = folder / "source"
    path = folder / "demo.tar"
    cli(source, "demo")
    cli(source, "save", *ARCHIVE_NAMES, "-o", str(path))
    return path


def cli_args(store: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "imgtui", "--backend", "builtin", "--store", str(store), *args]


def cli(store: Path, *args: str) -> str:
    done = subprocess.run(cli_args(store, *args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"imgtui {' '.join(args)}: {done.stderr}"
    return done.stdout


def cli_kill_after(store: Path, args: tuple[str, ...], delay: float) -> bool:
    """Start the CLI, SIGKILL it after `delay`; False if it had already finished cleanly."""
    p = subprocess.Popen(cli_args(store, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return kill_after(p, delay)


def forget(store: Store, names_: tuple[str, ...], *, dangling: bool, swept: bool) -> None:
    """Take names away (their images left dangling or removed), optionally sweeping their blobs."""
    with store.locked() as index:
        for name in names_:
            entry = index.get(name)
            if entry is None:
                continue
            index.remove_name(name)
            if dangling:
                index.add_dangling(entry.descriptor)
            elif not index.names_of(entry.digest):
                index.remove_manifest(entry.digest)
        if swept:
            gc.sweep(store, index)


def test_cli_kill_during_load(store: Store, archive: Path, rng: random.Random) -> None:
    kills = 0
    for i in kill_loop(CLI_BUDGET, CLI_MIN_KILLS):
        before = names(store)
        kills += cli_kill_after(store.root, ("load", "-q", "-i", str(archive)), rng.uniform(0, 0.7))
        assert_consistent(store, before, ARCHIVE_NAMES, f"CLI load kill {i}")
        # every other run starts from the orphans the killed one left
        forget(store, ARCHIVE_NAMES, dangling=False, swept=i % 2 == 1)
    print(f"\nCLI load: {i + 1} runs, {kills} killed mid-way, seed {SEED}")


def test_cli_kill_during_prune(store: Store, archive: Path, rng: random.Random) -> None:
    kills = 0
    for i in kill_loop(CLI_BUDGET, CLI_MIN_KILLS):
        cli(store.root, "load", "-q", "-i", str(archive))
        forget(store, ARCHIVE_NAMES, dangling=True, swept=False)
        before = names(store)
        kills += cli_kill_after(store.root, ("prune", "-f"), rng.uniform(0, 0.4))
        assert_consistent(store, before, "\0", f"CLI prune kill {i}")
    print(f"\nCLI prune: {i + 1} runs, {kills} killed mid-way, seed {SEED}")


def test_cli_load_and_prune_concurrently_keep_every_blob(store: Store, archive: Path) -> None:
    for i in range(6):
        # The archive's blobs are already here as orphans, so the load reuses them by digest
        # while prunes (each with a dangling image to delete, so it sweeps) run beside it.
        cli(store.root, "load", "-q", "-i", str(archive))
        forget(store, ARCHIVE_NAMES, dangling=False, swept=False)
        before = names(store)
        load = subprocess.Popen(
            cli_args(store.root, "load", "-q", "-i", str(archive)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        while load.poll() is None:
            add_image(store, None, [layer_tar({f"dangling-{time.time()}": b"x"})])
            cli(store.root, "prune", "-f")
        assert load.wait() == 0
        assert_consistent(store, before, ARCHIVE_NAMES, f"CLI load beside prune, round {i}")
        assert set(ARCHIVE_NAMES) <= set(names(store))
