"""Working containers of the built-in store: run one, then commit what it changed.

A container is a record (imgtui.store.containers), a rootfs unpacked from its image, and the
snapshot of that rootfs taken before anything ran: commit compares against it, so every run of
the container adds up into one layer, as `docker commit` captures the whole writable layer.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imgtui.backends.base import InvalidArgument
from imgtui.sandbox import RunSpec, SandboxError
from imgtui.sandbox.rootfs import Entry, RootFS, Snapshot, write_layer
from imgtui.sandbox.run import MOUNT_POINTS, run
from imgtui.store import containers as ctr
from imgtui.store import oci
from imgtui.store.commit import write_image
from imgtui.store.layout import Store

# What `docker commit --change` accepts (the daemon's list).
COMMIT_CHANGES = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME",
                  "WORKDIR", "STOPSIGNAL", "HEALTHCHECK")  # fmt: skip


def _folder(store: Store, record: ctr.ContainerRecord) -> Path:
    return store.side / "containers" / record.id


def rootfs_of(store: Store, record: ctr.ContainerRecord) -> RootFS:
    return RootFS(_folder(store, record) / "rootfs")


def _save_baseline(path: Path, snap: Snapshot) -> None:
    data = {
        p: [e.kind, e.mode, e.uid, e.gid, e.size, e.mtime_ns, e.link, e.ino]
        for p, e in snap.items()
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)


def _load_baseline(path: Path) -> Snapshot:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise SandboxError(f"{path}: the container's starting state is missing") from None
    return {p: Entry(*v) for p, v in data.items()}


def prepare(store: Store, record: ctr.ContainerRecord, layers: Sequence[str]) -> RootFS:
    """The container's rootfs, unpacked on first use, with its starting snapshot."""
    root = rootfs_of(store, record)
    baseline = _folder(store, record) / "baseline.json"
    if root.path.is_dir() and baseline.exists():
        return root
    root.remove()
    root = RootFS.unpack(store, layers, root.path)
    root.ensure_mount_points(MOUNT_POINTS)  # made now, so never part of its changes
    _save_baseline(baseline, root.snapshot())
    return root


def spec_for(
    config: Mapping[str, Any],
    command: Sequence[str] = (),
    *,
    tty: bool = False,
    network: str = "none",
    hostname: str = "",
) -> RunSpec:
    """docker's rules: ENTRYPOINT + (the given command, else CMD), with the image's env."""
    c = config.get("config") or {}
    argv = tuple(c.get("Entrypoint") or ()) + tuple(command or c.get("Cmd") or ())
    if not argv:
        raise InvalidArgument("no command specified: the image has no CMD or ENTRYPOINT")
    return RunSpec(
        argv=argv,
        env=tuple(c.get("Env") or ()),
        user=str(c.get("User") or ""),
        workdir=str(c.get("WorkingDir") or "/"),
        network=network,
        hostname=hostname or "imgtui",
        tty=tty,
    )


def start(
    store: Store,
    record: ctr.ContainerRecord,
    root: RootFS,
    spec: RunSpec,
    *,
    output: Callable[[bytes], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Run the container's command to its end; the record says running, then exited."""

    def started(pid: int) -> None:
        record.state, record.pid = "running", pid
        ctr.save(store, record)

    code = 125
    try:
        code = run(root, spec, output=output, cancel=cancel, started=started)
        return code
    finally:
        record.state = "exited"
        record.exit_code = code
        record.pid = 0
        record.finished = datetime.now(timezone.utc).isoformat()
        ctr.save(store, record)


def commit(
    store: Store,
    record: ctr.ContainerRecord,
    base_config: Mapping[str, Any],
    base_layers: Sequence[oci.Descriptor],
    *,
    names: Sequence[str] = (),
    message: str = "",
    author: str = "",
    changes: Sequence[str] = (),
) -> str:
    """The container's changes as a new image; returns its id. No change: an empty layer-less
    history entry, as docker still makes a new image for a commit of an untouched container."""
    base = json.loads(json.dumps(base_config))
    if record.cmd:  # docker commits the container's own Cmd: what it was run with
        base.setdefault("config", {})["Cmd"] = list(record.cmd)
    config = apply_changes(base, changes)
    root = rootfs_of(store, record)
    # Never started: nothing changed, and docker still commits it (as a layer-less step).
    started = root.path.is_dir()
    baseline = _load_baseline(_folder(store, record) / "baseline.json") if started else {}
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    with store.ingesting():
        layer = write_layer(root, baseline, store) if started else None
        layers = list(base_layers)
        new = dict(config)
        history = list(new.get("history") or [])
        step: dict[str, Any] = {"created": now, "created_by": " ".join(record.command)}
        if author:
            step["author"] = author
        if message:
            step["comment"] = message
        if layer is not None:
            layers.append(oci.Descriptor(layer.media_type, layer.digest, layer.size))
            rootfs = dict(new.get("rootfs") or {"type": "layers"})
            rootfs["diff_ids"] = [*list(rootfs.get("diff_ids") or ()), layer.digest]
            new["rootfs"] = rootfs
        else:
            step["empty_layer"] = True
        new["history"] = [*history, step]
        new["created"] = now
        new["comment"] = message  # docker's commit sets these even when empty
        new["author"] = author
        new["container"] = record.id
        image_id, _ = write_image(store, new, layers, names)
    return image_id


def apply_changes(config: Mapping[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """docker commit --change: Dockerfile instructions applied to the image's runtime config."""
    out = json.loads(json.dumps(config))
    if not changes:
        return out
    from imgtui.build import parser
    from imgtui.build.config_eval import StageConfig, StageEvaluator
    from imgtui.build.errors import DockerfileError
    from imgtui.build.plan import ArgScope

    evaluator = StageEvaluator(StageConfig.from_docker(out.get("config")), ArgScope({}, {}), "\\")
    for change in changes:
        word = change.strip().split(None, 1)[0].upper() if change.strip() else ""
        if word not in COMMIT_CHANGES:
            raise InvalidArgument(f"{word or change!r} is not a valid change command")
        try:
            stage = parser.parse(f"FROM scratch\n{change}", filename="--change").stages[0]
            for instr in stage.instructions:
                evaluator.apply(instr)
        except DockerfileError as e:
            raise InvalidArgument(f"--change {change!r}: {e}") from None
    out["config"] = evaluator.config.to_docker()
    return out
