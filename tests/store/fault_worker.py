"""Store operations run in a child process by the fault tests, which kill it at random points.

    python -m tests.store.fault_worker OP STORE PREFIX SEED [N]

Every operation prints "ready" once imported, then loops until killed (or until done, for the
finite ones) and touches only names that start with PREFIX. `tagger` and `loader` print their
final names as JSON when they finish.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from imgtui.store import gc
from imgtui.store.layout import Store
from tests.store.helpers import layer_tar, write_image


def shared_layer(k: int) -> bytes:
    """One of a few base layers every loader reuses, so blobs are deduplicated by digest."""
    return layer_tar({f"base/{k}": f"base layer {k}\n".encode() * 2000})


def own_layer(prefix: str, i: int) -> bytes:
    """A layer only image i of PREFIX has (tests pre-write some as orphans, to be reused)."""
    return layer_tar({f"{prefix}/{i}": f"{prefix} {i}\n".encode() * 300})


def load(store: Store, prefix: str, rng: random.Random, count: int | None) -> dict[str, str]:
    """Ingest images (blobs, then names under the lock), as `imgtui load` does."""
    out: dict[str, str] = {}
    i = 0
    while count is None or i < count:
        with store.ingesting():
            layers = [shared_layer(rng.randrange(3)), own_layer(prefix, i)]
            if rng.random() < 0.3:
                layers.append(rng.randbytes(rng.randrange(1, 200_000)))
            desc = write_image(store, layers)
            with store.locked() as index:
                name = f"docker.io/{prefix}/img:{i}"
                index.set_name(name, desc)
                out[name] = desc.digest
                if rng.random() < 0.3:
                    index.set_name(f"docker.io/{prefix}/img:latest", desc)
                    out[f"docker.io/{prefix}/img:latest"] = desc.digest
        i += 1
    return out


def untag(store: Store, prefix: str, rng: random.Random) -> None:
    """Remove PREFIX names one lock at a time, deleting an image with its last name (rmi)."""
    while True:
        with store.locked() as index:
            mine = sorted(n for n in index.named() if n.startswith(f"docker.io/{prefix}/"))
            if not mine:
                return
            entry = index.remove_name(rng.choice(mine))
            if not index.names_of(entry.digest):
                index.remove_manifest(entry.digest)
                if rng.random() < 0.5:
                    gc.sweep(store, index)


def prune(store: Store) -> None:
    """Drop dangling images and sweep, over and over (image prune)."""
    while True:
        with store.locked() as index:
            for e in [e for e in index.entries if not e.name]:
                index.remove_manifest(e.digest)
            gc.sweep(store, index)


def tagger(store: Store, prefix: str, rng: random.Random, rounds: int) -> dict[str, str]:
    """Add, move and remove PREFIX tags among existing images, one lock each; the final names."""
    expected: dict[str, str] = {}
    for _ in range(rounds):
        for j in range(8):
            name = f"docker.io/{prefix}/t:{j}"
            with store.locked() as index:
                named = sorted(n for n in index.named() if n.startswith("docker.io/base/"))
                if not named:
                    raise SystemExit("every docker.io/base/ name is gone")
                target = index.named()[rng.choice(named)].descriptor
                index.set_name(name, target)
            expected[name] = target.digest
        for j in rng.sample(range(8), 4):
            name = f"docker.io/{prefix}/t:{j}"
            with store.locked() as index:
                index.remove_name(name)
            del expected[name]
    return expected


def main(argv: list[str]) -> None:
    op, root, prefix, seed = argv[:4]
    n = int(argv[4]) if len(argv) > 4 else None
    store = Store.open(Path(root), create=False)
    rng = random.Random(int(seed))
    print("ready", flush=True)
    result: dict[str, str] | None = None
    if op == "load":
        result = load(store, prefix, rng, n)
    elif op == "untag":
        untag(store, prefix, rng)
    elif op == "prune":
        prune(store)
    elif op == "tagger":
        result = tagger(store, prefix, rng, n or 10)
    else:
        raise SystemExit(f"unknown op {op}")
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
