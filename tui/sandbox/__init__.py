"""Running image commands without a daemon: RUN in builds, `imgtui run`, and commits.

A command runs inside the image's root filesystem (unpacked under the store's side folder) in new
mount, pid, ipc, uts and network namespaces, chrooted, with no network unless asked for. The
namespaces come from util-linux's `unshare` (as root; rootless through a user namespace when the
kernel allows one), and a small init (imgtui.sandbox.init) mounts /proc and a private /dev, then
drops to the image's user and execs. Where no namespace can be made, nothing runs: the caller gets
a SandboxError saying why. What changed on disk becomes a layer (rootfs.write_layer).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

from imgtui.backends.base import BackendError


class SandboxError(BackendError):
    """The sandbox could not be made or the command could not start; one line."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What to run and as whom, as a container config says it."""

    argv: tuple[str, ...]
    env: tuple[str, ...] = ()  # "KEY=value"
    user: str = ""  # "", "name", "uid", "name:group", "uid:gid"
    workdir: str = "/"
    network: str = "none"  # "none": a new empty network namespace; "host": the host's
    hostname: str = "imgtui"
    tty: bool = False  # interactive: the command gets this terminal


def unshare_command() -> list[str]:
    """The namespaces every sandboxed process gets (network added by the caller)."""
    cmd = ["unshare", "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        cmd.append("--map-root-user")  # rootless: a user namespace where we are root
    return cmd


@functools.cache
def unavailable_reason() -> str | None:
    """None when commands can run sandboxed here, else one line saying why they cannot.

    Tried once per process: `unshare` with every namespace we use, running `true`.
    """
    if shutil.which("unshare") is None:
        return "cannot sandbox RUN here: util-linux's unshare is not installed"
    true = shutil.which("true") or "/bin/true"
    try:
        done = subprocess.run(
            [*unshare_command(), "--net", true],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot sandbox RUN here: unshare failed ({e})"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        detail = why[-1] if why else f"exit code {done.returncode}"
        return f"cannot sandbox RUN here: the kernel refused new namespaces ({detail})"
    return None
