"""Real services for the test session: a private dockerd and a loopback Distribution registry.

The suite never mocks the engine. When IMGTUI_TEST_DOCKER_HOST / IMGTUI_TEST_REGISTRY are set, the
tests use those; otherwise the session starts its own daemon on a private socket (never the default
one) and a registry on 127.0.0.1, and stops both at the end. Starting needs root and the Debian
packages docker.io and docker-registry; when that fails, every test that needs them fails with the
reason — they never skip.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DOCKER_ENV = "IMGTUI_TEST_DOCKER_HOST"
REGISTRY_ENV = "IMGTUI_TEST_REGISTRY"
ERROR_ENV = "IMGTUI_TEST_SERVICES_ERROR"


@dataclass
class Services:
    docker_host: str | None = None
    registry: str | None = None  # "127.0.0.1:PORT"
    errors: list[str] = field(default_factory=list)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _tmp: Path | None = None

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._procs.clear()
        if self._tmp is not None:
            # dockerd leaves mounts behind only if it was killed; unmount before removing.
            subprocess.run(
                [
                    "sh",
                    "-c",
                    f"grep -o ' {self._tmp}[^ ]*' /proc/mounts | sort -r | xargs -r umount -l",
                ],
                check=False,
                capture_output=True,
            )
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not answer within {timeout:.0f}s; log tail:\n{tail}")


def _docker_ping(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        return b"200 OK" in s.recv(200)


def start_dockerd(services: Services, root: Path) -> None:
    exe = shutil.which("dockerd")
    if exe is None:
        raise RuntimeError("dockerd is not installed (apt-get install docker.io)")
    if os.geteuid() != 0:
        raise RuntimeError(f"starting a private dockerd needs root; or set {DOCKER_ENV}")
    d = root / "dockerd"
    d.mkdir()
    sock = d / "docker.sock"
    log = d / "log"
    proc = subprocess.Popen(
        [
            exe,
            "--host",
            f"unix://{sock}",
            "--data-root",
            str(d / "root"),
            "--exec-root",
            str(d / "exec"),
            "--pidfile",
            str(d / "pid"),
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    services._procs.append(proc)
    _wait(lambda: _docker_ping(sock), 60, "dockerd", log)
    services.docker_host = f"unix://{sock}"


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def start_registry(services: Services, root: Path) -> None:
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if exe is None:
        raise RuntimeError(
            "the Distribution registry is not installed (apt-get install docker-registry)"
        )
    d = root / "registry"
    d.mkdir()
    port = _free_port()
    config = d / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=d / "data", port=port))
    log = d / "log"
    proc = subprocess.Popen(
        [exe, "serve", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    services._procs.append(proc)
    url = f"http://127.0.0.1:{port}/v2/"
    _wait(lambda: urllib.request.urlopen(url, timeout=2).status == 200, 30, "registry", log)
    services.registry = f"127.0.0.1:{port}"


def start() -> Services:
    """Use the services named in the environment, or start private ones."""
    services = Services(
        docker_host=os.environ.get(DOCKER_ENV) or None,
        registry=os.environ.get(REGISTRY_ENV) or None,
    )
    if services.docker_host and services.registry:
        return services
    services._tmp = Path(tempfile.mkdtemp(prefix="imgtui-test-"))
    if not services.docker_host:
        try:
            start_dockerd(services, services._tmp)
        except Exception as e:  # reported by every test that needs it
            services.errors.append(f"docker engine: {e}")
    if not services.registry:
        try:
            start_registry(services, services._tmp)
        except Exception as e:
            services.errors.append(f"registry: {e}")
    return services


BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "cat", "echo", "mkdir", "rm", "touch", "true", "false", "sleep", "dd", "env")


def busybox_rootfs_tar(extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal rootfs: static busybox, a few applet links, /etc/passwd, plus `extra` files."""
    if not BUSYBOX.exists():
        raise RuntimeError("static busybox missing (apt-get install busybox-static)")
    buf = io.BytesIO()

    def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "root", "dev", "proc", "sys"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        add_file(
            "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
        )
        for name, data in (extra or {}).items():
            add_file(name, data)
    return buf.getvalue()


def newest_docker_client() -> str:
    """The newest docker client here: Debian's docker.io client predates `--format json`."""
    best, best_version = "", (0,)
    for cand in sorted(
        {shutil.which("docker"), "/usr/local/bin/docker", "/usr/bin/docker"} - {None}
    ):
        if not os.path.exists(cand):
            continue
        out = subprocess.run(
            [cand, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        version = tuple(int(p) for p in out.split("+")[0].split(".") if p.isdigit()) or (0,)
        if version > best_version:
            best, best_version = cand, version
    if not best:
        raise RuntimeError("no docker client binary on this machine (apt-get install docker.io)")
    return best
