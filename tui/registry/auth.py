"""Credentials in docker's own config.json, so `docker login` and `imgtui login` share them.

The file is `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`). Lookup order is
docker's: `credHelpers[host]`, then `credsStore`, then the inline `auths[host].auth`. Docker Hub is
keyed by its legacy URL `https://index.docker.io/v1/`, whatever host serves it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgtui.backends.base import AuthError, BackendError
from imgtui.fsutil import atomic_file

HUB_KEY = "https://index.docker.io/v1/"
HUB_DOMAINS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker").expanduser()


def config_path() -> Path:
    return config_dir() / "config.json"


def server_key(domain: str) -> str:
    """The key docker files a registry's credentials under."""
    return HUB_KEY if domain in HUB_DOMAINS else domain


def _read_config() -> dict[str, Any]:
    path = config_path()
    try:
        data = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise BackendError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        obj = json.loads(data) if data.strip() else {}
    except ValueError as e:
        raise BackendError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise BackendError(f"{path}: not a JSON object")
    return obj


def _write_config(obj: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # 0600: it holds secrets, as docker keeps it
    with atomic_file(path, tmp_dir=path.parent, mode=0o600) as out:
        out.write((json.dumps(obj, indent="\t") + "\n").encode())


def _helper_for(config: dict[str, Any], key: str) -> str | None:
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return str(helpers[key])
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(helper: str, action: str, payload: str) -> str:
    exe = f"docker-credential-{helper}"
    try:
        out = subprocess.run(
            [exe, action], input=payload, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise AuthError(
            f"credential helper {exe} is not installed (named in {config_path()})"
        ) from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"credential helper {exe} {action} did not answer within 60s") from None
    if out.returncode != 0:
        reason = (out.stdout.strip() or out.stderr.strip()).splitlines()
        raise AuthError(f"credential helper {exe} {action} failed: {reason[0] if reason else ''}")
    return out.stdout


def lookup(domain: str) -> Credentials | None:
    """The stored credentials for a registry host, or None for anonymous access."""
    config = _read_config()
    key = server_key(domain)
    helper = _helper_for(config, key)
    if helper:
        try:
            text = _run_helper(helper, "get", key)
        except AuthError as e:
            if "credentials not found" in str(e).lower():
                return None
            raise
        try:
            obj = json.loads(text)
            return Credentials(str(obj["Username"]), str(obj["Secret"]))
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"credential helper docker-credential-{helper}: bad answer") from None
    auths = config.get("auths") or {}
    entry = auths.get(key) if isinstance(auths, dict) else None
    if entry is None and key == HUB_KEY and isinstance(auths, dict):
        entry = next((auths[k] for k in HUB_DOMAINS if k in auths), None)
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, colon, password = (
                base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            )
            if not colon:
                raise ValueError("no colon")
        except (ValueError, UnicodeDecodeError, TypeError):
            raise AuthError(
                f"{config_path()}: auths[{key!r}].auth is not base64 user:pass"
            ) from None
        return Credentials(user, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def store(domain: str, creds: Credentials) -> str:
    """Save credentials where docker would; returns where, for the caller to say."""
    config = _read_config()
    key = server_key(domain)
    helper = _helper_for(config, key)
    if helper:
        payload = json.dumps(
            {"ServerURL": key, "Username": creds.username, "Secret": creds.password}
        )
        _run_helper(helper, "store", payload)
        return f"credential helper docker-credential-{helper}"
    auths = config.setdefault("auths", {})
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    auths[key] = {"auth": token}
    _write_config(config)
    return str(config_path())


def erase(domain: str) -> bool:
    """Forget a registry's credentials; False when there were none."""
    config = _read_config()
    key = server_key(domain)
    helper = _helper_for(config, key)
    found = False
    if helper:
        with contextlib.suppress(AuthError):
            _run_helper(helper, "erase", key)
            found = True
    auths = config.get("auths")
    if isinstance(auths, dict) and key in auths:
        del auths[key]
        _write_config(config)
        found = True
    return found
