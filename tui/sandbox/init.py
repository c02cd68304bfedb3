"""Pid 1 of a sandbox: mount /proc and a private /dev, chroot, become the image's user, exec.

Run by path (`python …/init.py ROOTFS SPEC_JSON`) inside the namespaces `unshare` made, so it
imports nothing of imgtui: it starts in 40 ms, and no package code runs after the chroot. Mounts
live in the new mount namespace only and vanish with it; the host sees none of them.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC = 4096, 16384
MS_PRIVATE = 1 << 18
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_libc = ctypes.CDLL(None, use_errno=True)


def fail(message: str, code: int = 125) -> None:
    sys.stderr.write(f"imgtui sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def mount(
    source: str, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    if _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    ):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype or 'bind'} on {target}: {os.strerror(err)}")


def loopback_up() -> None:
    """A new network namespace has `lo` down; docker's --network none brings it up."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, siocgifflags, req)[:18])[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))


def make_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k")
    for name in DEVICES:
        target = os.path.join(dev, name)
        open(target, "w").close()
        try:
            mount(f"/dev/{name}", target, None, MS_BIND)
        except OSError:
            os.unlink(target)  # no such device on the host (no tty in CI): leave it out
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, os.path.join(dev, name))
    shm = os.path.join(dev, "shm")
    os.mkdir(shm)
    mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")


def _table(root: str, name: str) -> list[list[str]]:
    try:
        with open(os.path.join(root, "etc", name), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()]
    except OSError:
        return []


def resolve_user(root: str, user: str) -> tuple[int, int, list[int], str]:
    """(uid, gid, extra groups, home) of docker's USER syntax, read from the image's files."""
    name, _, group = user.partition(":")
    passwd = _table(root, "passwd")
    groups = _table(root, "group")
    uid, gid, home = 0, 0, "/"
    found = None
    for row in passwd:
        if len(row) >= 6 and (row[0] == name or (name.isdigit() and row[2] == name)):
            found = row
            break
    if found is not None:
        uid, gid, home = int(found[2]), int(found[3]), found[5] or "/"
        name = found[0]
    elif name and name.isdigit():
        uid = int(name)
    elif name:
        fail(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        row = next((g for g in groups if len(g) >= 3 and group in (g[0], g[2])), None)
        if row is not None:
            gid = int(row[2])
        elif group.isdigit():
            gid = int(group)
        else:
            fail(f"unable to find group {group}: no matching entries in group file")
    extra = sorted(
        {int(g[2]) for g in groups if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit()}
    )
    return uid, gid, extra, home


def main(argv: list[str]) -> None:
    root, spec = argv[0], json.loads(argv[1])
    try:
        mount("none", "/", None, MS_REC | MS_PRIVATE)
        mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        make_dev(root)
        try:  # read-only, as docker mounts it; it shows this network namespace's devices
            flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            mount("sysfs", os.path.join(root, "sys"), "sysfs", flags)
        except OSError:
            pass  # rootless without its own network namespace: no /sys, as some runtimes do
        if spec["network"] != "host":
            loopback_up()
        socket.sethostname(spec["hostname"])
    except OSError as e:
        fail(f"cannot set up the sandbox: {e}")
    uid, gid, groups, home = resolve_user(root, spec["user"])
    env = dict(item.partition("=")[::2] for item in spec["env"])
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOSTNAME", spec["hostname"])
    env.setdefault("HOME", home)
    if spec["tty"]:
        env.setdefault("TERM", os.environ.get("TERM", "xterm"))
    os.chroot(root)
    workdir = spec["workdir"] or "/"
    try:
        os.makedirs(workdir, exist_ok=True)  # docker creates a missing working directory too
        os.chdir(workdir)
    except OSError as e:
        fail(f"cannot enter working directory {workdir}: {e.strerror}")
    try:
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    except OSError as e:
        fail(f"cannot become user {spec['user'] or 'root'}: {e.strerror}")
    args = spec["argv"]
    if not args:
        fail("no command given")
    # Resolved by hand: os.execvpe imports modules lazily, and none can load after the chroot.
    path = args[0] if "/" in args[0] else find_executable(args[0], env["PATH"])
    if path is None:
        fail(f'exec: "{args[0]}": executable file not found in $PATH', 127)
        return
    try:
        os.execve(path, args, env)
    except FileNotFoundError:
        fail(f'exec: "{args[0]}": no such file or directory', 127)
    except PermissionError:
        fail(f'exec: "{args[0]}": permission denied', 126)
    except OSError as e:
        fail(f'exec: "{args[0]}": {e.strerror}', 126)


def find_executable(name: str, search: str) -> str | None:
    for folder in search.split(":"):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


if __name__ == "__main__":
    main(sys.argv[1:])
