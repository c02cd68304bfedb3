"""Which daemon imgtui talks to, resolved in the docker CLI's order of precedence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from imgtui.backends.base import InvalidArgument
from imgtui.backends.docker_endpoint import DEFAULT_HOST, resolve


def _context(config_dir: Path, name: str, host: str, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )
    if tls:
        tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
        tls_dir.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (tls_dir / f).write_text("x")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    _context(tmp_path, "remote", "ssh://me@build-box")
    _context(tmp_path, "secure", "tcp://10.0.0.9:2376", tls=True)
    return tmp_path


def test_default_socket(cfg: Path) -> None:
    ep = resolve(environ={"DOCKER_CONFIG": str(cfg)})
    assert (ep.base_url, ep.context, ep.tls) == (DEFAULT_HOST, "default", None)


def test_host_flag_wins_over_everything(cfg: Path) -> None:
    env = {"DOCKER_CONFIG": str(cfg), "DOCKER_HOST": "tcp://a:1", "DOCKER_CONTEXT": "remote"}
    assert resolve("unix:///tmp/x.sock", environ=env).base_url == "unix:///tmp/x.sock"


def test_context_flag_then_docker_host_then_docker_context(cfg: Path) -> None:
    env = {"DOCKER_CONFIG": str(cfg), "DOCKER_HOST": "tcp://a:1", "DOCKER_CONTEXT": "secure"}
    assert resolve(context="remote", environ=env).base_url == "ssh://me@build-box"
    assert resolve(environ=env).base_url == "tcp://a:1"
    del env["DOCKER_HOST"]
    ep = resolve(environ=env)
    assert (ep.base_url, ep.context) == ("tcp://10.0.0.9:2376", "secure")
    assert ep.tls is not None and ep.tls.ca and ep.tls.ca.endswith("ca.pem") and ep.tls.verify


def test_current_context_from_config_file(cfg: Path) -> None:
    (cfg / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert resolve(environ={"DOCKER_CONFIG": str(cfg)}).base_url == "ssh://me@build-box"


def test_unknown_context_is_one_clear_error(cfg: Path) -> None:
    with pytest.raises(InvalidArgument, match='context "nope" does not exist'):
        resolve(context="nope", environ={"DOCKER_CONFIG": str(cfg)})


def test_host_and_context_conflict(cfg: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot specify both"):
        resolve("tcp://a:1", "remote", environ={"DOCKER_CONFIG": str(cfg)})


@pytest.mark.parametrize(
    ("given", "url"),
    [("/run/docker.sock", "unix:///run/docker.sock"), ("10.1.1.1:2375", "tcp://10.1.1.1:2375")],
)
def test_host_shorthands(given: str, url: str) -> None:
    assert resolve(given, environ={}).base_url == url


def test_tls_from_environment(tmp_path: Path) -> None:
    env = {
        "DOCKER_HOST": "tcp://h:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
    }
    ep = resolve(environ=env)
    assert ep.tls is not None and ep.tls.verify and ep.tls.cert == str(tmp_path / "cert.pem")


def test_bad_scheme() -> None:
    with pytest.raises(InvalidArgument, match="unsupported scheme"):
        resolve("gopher://x", environ={})
