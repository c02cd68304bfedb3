"""Start a command in a RootFS inside new namespaces, and wait for it (or cancel it)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from imgtui.sandbox import RunSpec, SandboxError, unavailable_reason, unshare_command
from imgtui.sandbox.rootfs import RootFS

INIT = Path(__file__).with_name("init.py")
MOUNT_POINTS = ("/proc", "/dev", "/sys")


class RunCancelled(SandboxError):
    """The caller cancelled: the process group was killed."""


def command(root: RootFS, spec: RunSpec) -> list[str]:
    """The argv that runs `spec` sandboxed (also what a test or a curious user can run)."""
    if not spec.argv:
        raise SandboxError("no command given")
    if spec.network not in ("none", "host"):
        raise SandboxError(f"network {spec.network!r}: only none and host exist without a daemon")
    net = ["--net"] if spec.network != "host" else []
    return [
        *unshare_command(),
        *net,
        sys.executable,
        "-S",  # init.py needs nothing beyond the standard library: skip site-packages
        str(INIT),
        str(root.path),
        json.dumps(asdict(spec)),
    ]


def run(
    root: RootFS,
    spec: RunSpec,
    *,
    output: Callable[[bytes], None] | None = None,
    cancel: threading.Event | None = None,
    started: Callable[[int], None] | None = None,
) -> int:
    """The command's exit code; output None: it shares our stdin/stdout/stderr (a terminal).

    `started` gets the pid of the sandbox's process group leader, for whoever must stop it later
    from elsewhere (`rm -f` of a running container).
    """
    reason = unavailable_reason()
    if reason is not None:
        raise SandboxError(reason)
    root.ensure_mount_points(MOUNT_POINTS)
    argv = command(root, spec)
    if output is None:
        proc = subprocess.Popen(argv, start_new_session=not spec.tty)
        if started is not None:
            started(proc.pid)
        try:
            return _exit_code(proc.wait())
        except KeyboardInterrupt:
            _kill(proc)
            raise
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    if started is not None:
        started(proc.pid)
    fd = proc.stdout.fileno()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                _kill(proc)
                raise RunCancelled("cancelled: the command was stopped")
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            output(chunk)
        return _exit_code(proc.wait())
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """unshare --kill-child takes the command down with it; the group catches the rest."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _exit_code(status: int) -> int:
    """Popen says -N for death by signal N; shells and docker say 128 + N."""
    return 128 - status if status < 0 else status
