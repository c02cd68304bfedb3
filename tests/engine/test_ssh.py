"""ssh:// daemons through a real sshd on loopback, as `docker -H ssh://…` reaches them.

The sshd runs as root on 127.0.0.1 with a throwaway host key and client key; its sessions get
DOCKER_HOST pointing at the test engine, so the remote `docker system dial-stdio` lands there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtui.backends.base import BackendUnavailable
from imgtui.backends.docker_sdk import DockerBackend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(docker_host: str, tmp_path_factory: pytest.TempPathFactory):
    """(ssh URL, IMGTUI_SSH_OPTS value) for an sshd whose sessions reach the test engine."""
    exe = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(exe) or os.geteuid() != 0:
        pytest.fail("ssh tests need root and sshd (apt-get install openssh-server)", pytrace=False)
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
        )
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = _free_port()
    config = d / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\n"
        f"UsePAM no\nPidFile {d / 'sshd.pid'}\nSetEnv DOCKER_HOST={docker_host}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = (d / "log").open("wb")
    proc = subprocess.Popen([exe, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {(d / 'log').read_text()[-500:]}", pytrace=False)
    opts = (
        f"-i {d / 'client_key'} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR"
    )
    yield f"ssh://root@127.0.0.1:{port}", opts
    proc.terminate()
    proc.wait(timeout=10)


def test_backend_over_ssh(sshd, base_image, monkeypatch, unique_repo):
    url, opts = sshd
    monkeypatch.setenv("IMGTUI_SSH_OPTS", opts)
    backend = DockerBackend(host=url)
    try:
        assert backend.info().location == url
        ids = {i.id for i in backend.images()}  # lean transport through the bridge
        assert base_image in ids
        backend.tag(base_image, f"{unique_repo}:over-ssh")  # the SDK through the bridge
        assert f"{unique_repo}:over-ssh" in backend.inspect(f"{unique_repo}:over-ssh").repo_tags
        result = backend.remove(f"{unique_repo}:over-ssh")
        assert result.untagged == (f"{unique_repo}:over-ssh",)
    finally:
        backend.close()


def test_cli_over_ssh_matches_local(sshd, docker_host, base_image):
    url, opts = sshd
    env = {**os.environ, "IMGTUI_SSH_OPTS": opts}
    env.pop("DOCKER_HOST", None)

    def run(host: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "imgtui", "-H", host, "images", "-q", "--no-trunc"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert set(run(url).split()) == set(run(docker_host).split())


def test_ssh_failure_is_one_line(monkeypatch):
    monkeypatch.setenv("IMGTUI_SSH_OPTS", "-o ConnectTimeout=3")
    backend = DockerBackend(host=f"ssh://nobody@127.0.0.1:{_free_port()}")
    try:
        with pytest.raises(BackendUnavailable) as err:
            backend.images()
        text = str(err.value)
        assert "\n" not in text and "Connection refused" in text, text
    finally:
        backend.close()
