"""ssh:// daemons, reached the way the docker CLI reaches them: `ssh HOST docker system dial-stdio`.

The SDK's own ssh transport needs paramiko (and its crypto stack) even when told to use the ssh
binary. Instead a local unix socket in a private temp folder is bridged, one ssh process per
connection, to the remote daemon: the user's ssh config, keys and agent apply as they do for docker,
and both the lean transport and the SDK simply see a unix socket.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from imgtui.backends.base import BackendUnavailable, InvalidArgument

SSH_OPTS_ENV = "IMGTUI_SSH_OPTS"


def ssh_command(url: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The ssh invocation for `ssh://[user@]host[:port]` (no path allowed, as docker says).

    IMGTUI_SSH_OPTS adds ssh options (e.g. "-i ~/.ssh/build_key") for hosts that ~/.ssh/config
    does not describe.
    """
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise InvalidArgument(f"invalid ssh URL {url!r}: expected ssh://[user@]host[:port]")
    if parts.path not in ("", "/"):
        raise InvalidArgument(f"invalid ssh URL {url!r}: extra path after the host")
    exe = shutil.which("ssh")
    if exe is None:
        raise BackendUnavailable(f"cannot connect to {url}: no ssh client on this machine")
    cmd = [exe, "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if parts.port:
        cmd += ["-p", str(parts.port)]
    if parts.username:
        cmd += ["-l", parts.username]
    if environ.get(SSH_OPTS_ENV):
        cmd += shlex.split(environ[SSH_OPTS_ENV])
    return [*cmd, "--", parts.hostname, "docker", "system", "dial-stdio"]


class SSHBridge:
    """A unix socket whose every connection is piped through its own ssh process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._command = ssh_command(url)
        self._dir = tempfile.mkdtemp(prefix="imgtui-ssh-")
        self.path = os.path.join(self._dir, "docker.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.last_error = ""
        threading.Thread(target=self._accept, name="imgtui-ssh-accept", daemon=True).start()

    @property
    def base_url(self) -> str:
        return "unix://" + self.path

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        proc = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal must not kill the tunnel first
        )
        with self._lock:
            self._procs.add(proc)
        assert proc.stdin and proc.stdout and proc.stderr

        def upstream() -> None:
            with contextlib.suppress(OSError, ValueError):
                while data := conn.recv(65536):
                    proc.stdin.write(data)
                    proc.stdin.flush()
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()

        threading.Thread(target=upstream, daemon=True).start()
        with contextlib.suppress(OSError, ValueError):
            while data := proc.stdout.read1(65536):
                conn.sendall(data)
        # Record why ssh ended before the client sees the connection drop.
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0 and err:
            self.last_error = err.splitlines()[-1]
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        with self._lock:
            self._procs.discard(proc)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
