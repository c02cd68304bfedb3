"""Working containers of the built-in store: records in the side folder, one folder each.

A record pins its image (by config digest), so rmi and prune can refuse to remove an image a
container still uses, as docker does. Running a container (issue: sandboxed run) fills in the
rootfs and the state; the record format is what both sides share.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from imgtui.store.layout import Store

_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "swift", "wise")
_NOUNS = ("ada", "babbage", "curie", "dijkstra", "euler", "hopper", "knuth", "lovelace", "turing")


class ContainerError(Exception):
    """Unknown or conflicting container; str() is one line."""


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str  # what the user asked for
    image_id: str  # config digest
    command: list[str] = field(default_factory=list)
    created: str = ""
    state: str = "created"  # created, running, exited
    exit_code: int = 0
    finished: str = ""
    pid: int = 0  # the sandbox's process (group) while running
    cmd: list[str] = field(default_factory=list)  # docker's Config.Cmd of the container

    @property
    def created_at(self) -> datetime:
        try:
            return datetime.fromisoformat(self.created)
        except ValueError:
            return datetime(1970, 1, 1, tzinfo=timezone.utc)


def _root(store: Store) -> Path:
    return store.side / "containers"


def records(store: Store) -> list[ContainerRecord]:
    out = []
    root = _root(store)
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        with contextlib.suppress(OSError, ValueError, TypeError):
            record = ContainerRecord(**json.loads((d / "config.json").read_text()))
            if record.state == "running" and not _alive(record.pid):
                # its process died with no one to record it (a crash, a reboot): exited
                record.state, record.exit_code = "exited", 137
            out.append(record)
    out.sort(key=lambda r: r.created, reverse=True)
    return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(store: Store, key: str) -> ContainerRecord:
    """By name, full id or unique id prefix, as docker resolves container references."""
    recs = records(store)
    for r in recs:
        if key in (r.name, r.id):
            return r
    matches = [r for r in recs if key and r.id.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ContainerError(f"multiple containers match {key!r}: use more of the id")
    raise ContainerError(f"No such container: {key}")


def create(
    store: Store,
    image: str,
    image_id: str,
    *,
    name: str | None = None,
    command: Sequence[str] = (),
    cmd: Sequence[str] = (),
) -> ContainerRecord:
    existing = {r.name for r in records(store)}
    if name and name in existing:
        raise ContainerError(f'Conflict. The container name "/{name}" is already in use')
    while not name or name in existing:
        name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}"
        if name in existing:
            name += f"_{secrets.token_hex(2)}"
    record = ContainerRecord(
        id=secrets.token_hex(32),
        name=name,
        image=image,
        image_id=image_id,
        command=list(command),
        created=datetime.now(timezone.utc).isoformat(),
        cmd=list(cmd),
    )
    save(store, record)
    return record


def save(store: Store, record: ContainerRecord) -> None:
    folder = _root(store) / record.id
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".config-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(record), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / "config.json")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove(store: Store, record: ContainerRecord) -> None:
    shutil.rmtree(_root(store) / record.id, ignore_errors=True)


def users_of(store: Store, image_id: str) -> list[ContainerRecord]:
    return [r for r in records(store) if r.image_id == image_id]
