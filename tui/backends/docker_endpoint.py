"""Which daemon to talk to, resolved the way the docker CLI resolves it.

Order: `--host`, then `--context`, then DOCKER_HOST, then DOCKER_CONTEXT, then `currentContext` in
~/.docker/config.json, then the default socket. Contexts are read from the docker CLI's own store
(contexts/meta/<sha256 of name>/meta.json) with the stdlib, so a plain `imgtui images` never
pays for importing the SDK just to find its socket.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imgtui.backends.base import InvalidArgument

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True, slots=True)
class TLSFiles:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class DockerEndpoint:
    base_url: str
    context: str = "default"
    tls: TLSFiles | None = None


def docker_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context_name(environ: Mapping[str, str] = os.environ) -> str:
    """The context the docker CLI would use when no flag is given."""
    if environ.get("DOCKER_HOST"):
        return "default"
    if environ.get("DOCKER_CONTEXT"):
        return environ["DOCKER_CONTEXT"]
    try:
        config = json.loads((docker_config_dir(environ) / "config.json").read_text())
    except (OSError, ValueError):
        return "default"
    name = config.get("currentContext") if isinstance(config, dict) else None
    return name if isinstance(name, str) and name else "default"


def _tls_from_env(environ: Mapping[str, str]) -> TLSFiles | None:
    if not environ.get("DOCKER_TLS_VERIFY") and not environ.get("DOCKER_CERT_PATH"):
        return None
    cert_path = Path(environ.get("DOCKER_CERT_PATH") or docker_config_dir(environ))
    return TLSFiles(
        ca=str(cert_path / "ca.pem"),
        cert=str(cert_path / "cert.pem"),
        key=str(cert_path / "key.pem"),
        verify=bool(environ.get("DOCKER_TLS_VERIFY")),
    )


def _context_endpoint(name: str, environ: Mapping[str, str]) -> DockerEndpoint:
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()
    contexts = docker_config_dir(environ) / "contexts"
    meta_file = contexts / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        endpoint = meta["Endpoints"]["docker"]
        host = endpoint["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidArgument(
            f'context "{name}" does not exist (no docker endpoint in {meta_file})'
        ) from None
    tls_dir = contexts / "tls" / digest / "docker"
    tls = None
    if tls_dir.is_dir():
        files = {p: str(tls_dir / f"{p}.pem") for p in ("ca", "cert", "key")}
        tls = TLSFiles(
            ca=files["ca"] if (tls_dir / "ca.pem").exists() else None,
            cert=files["cert"] if (tls_dir / "cert.pem").exists() else None,
            key=files["key"] if (tls_dir / "key.pem").exists() else None,
            verify=not endpoint.get("SkipTLSVerify", False),
        )
    return DockerEndpoint(base_url=host, context=name, tls=tls)


def resolve(
    host: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> DockerEndpoint:
    """The daemon endpoint for these flags and this environment."""
    if host and context:
        raise InvalidArgument("conflicting options: cannot specify both --host and --context")
    if host:
        return DockerEndpoint(base_url=_normalize(host), tls=_tls_from_env(environ))
    name = context or current_context_name(environ)
    if name == "default":
        env_host = environ.get("DOCKER_HOST")
        return DockerEndpoint(
            base_url=_normalize(env_host or DEFAULT_HOST), tls=_tls_from_env(environ)
        )
    return _context_endpoint(name, environ)


def _normalize(host: str) -> str:
    """Accept what `docker -H` accepts: a bare path means a unix socket, host:port means tcp."""
    if host.startswith("/"):
        return "unix://" + host
    if "://" not in host:
        return "tcp://" + host
    scheme = host.split("://", 1)[0]
    if scheme not in ("unix", "tcp", "ssh", "http", "https", "npipe", "fd"):
        raise InvalidArgument(f"invalid docker host {host!r}: unsupported scheme {scheme!r}")
    return host
