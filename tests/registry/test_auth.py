"""Basic (htpasswd), bearer-token and TLS registries; docker's config.json and login/logout."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from imgtui.backends.base import AuthError, RegistryError
from imgtui.registry import auth, browse
from imgtui.store.layout import Store
from tests.registry.conftest import PASSWORD, USER
from tests.registry.helpers import assert_clean, lines, pull, push
from tests.registry.images import make_image
from tests.registry.services import Registry, TokenIssuer

pytestmark = pytest.mark.registry


def _write_auths(docker_config: Path, host: str, user: str, password: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))


def _round_trip(host: str, repo: str, store: Store, other: Store) -> None:
    ref = f"{host}/{repo}:v1"
    m = make_image(store, ref, f"auth-{host}-{repo}")
    assert lines(push(store, ref, m))[-1].startswith("v1: digest: ")
    assert f"Digest: {m.digest}" in lines(pull(other, ref))
    assert_clean(other)


def test_basic_auth_login_push_pull_logout(
    basic_registry: Registry, unique_repo: str, store: Store, other_store: Store, cli, docker_config
) -> None:
    host = basic_registry.host
    with pytest.raises(AuthError, match=f"imgtui login {host}"):
        pull(store, f"{host}/{unique_repo}:v1")

    bad = cli("login", host, "-u", USER, "--password-stdin", input="wrong\n")
    assert bad.returncode == 1 and "login" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert not (docker_config / "config.json").exists()

    ok = cli("login", host, "-u", USER, "--password-stdin", input=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "Login Succeeded"
    config = json.loads((docker_config / "config.json").read_text())
    assert base64.b64decode(config["auths"][host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    assert stat.S_IMODE((docker_config / "config.json").stat().st_mode) == 0o600

    _round_trip(host, unique_repo, store, other_store)

    out = cli("logout", host)
    assert out.stdout.strip() == f"Removing login credentials for {host}"
    assert host not in json.loads((docker_config / "config.json").read_text())["auths"]


def test_basic_auth_bad_credentials(
    basic_registry: Registry, unique_repo: str, store: Store, docker_config
) -> None:
    _write_auths(docker_config, basic_registry.host, USER, "not-the-password")
    with pytest.raises(AuthError, match="bad credentials"):
        pull(store, f"{basic_registry.host}/{unique_repo}:v1")
    assert store.read_index().entries == []


def test_bearer_tokens(
    token_registry: Registry,
    token_issuer: TokenIssuer,
    unique_repo: str,
    store: Store,
    other_store: Store,
    docker_config,
) -> None:
    host = token_registry.host
    with pytest.raises(AuthError, match="credentials required"):
        pull(store, f"{host}/{unique_repo}:v1")
    _write_auths(docker_config, host, USER, PASSWORD)
    _round_trip(host, unique_repo, store, other_store)
    assert unique_repo in browse.repositories(host).repositories
    assert [row.tag for row in browse.tags(host, unique_repo)] == ["v1"]
    scopes = {r["scope"] for r in token_issuer.requests}
    assert f"repository:{unique_repo}:pull,push" in scopes
    assert f"repository:{unique_repo}:pull" in scopes
    assert "registry:catalog:*" in scopes


def test_bearer_bad_credentials(
    token_registry: Registry, unique_repo: str, store: Store, docker_config, cli
) -> None:
    _write_auths(docker_config, token_registry.host, USER, "wrong")
    with pytest.raises(AuthError, match="bad credentials"):
        pull(store, f"{token_registry.host}/{unique_repo}:v1")
    out = cli("pull", f"{token_registry.host}/{unique_repo}:v1")
    assert out.returncode == 1 and "bad credentials" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_credential_helper(
    basic_registry: Registry,
    unique_repo: str,
    store: Store,
    other_store: Store,
    docker_config,
    tmp_path,
    monkeypatch,
) -> None:
    """credHelpers names docker-credential-NAME, asked with the host on stdin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-imgtuitest"
    answer = json.dumps({"ServerURL": basic_registry.host, "Username": USER, "Secret": PASSWORD})
    helper.write_text(
        "#!/bin/sh\nread host\n"
        f'[ "$1" = get ] && [ "$host" = "{basic_registry.host}" ] && '
        f"echo '{answer}' && exit 0\n"
        "echo 'credentials not found in native keychain'; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {basic_registry.host: "imgtuitest"}})
    )
    assert auth.lookup(basic_registry.host) == auth.Credentials(USER, PASSWORD)
    _round_trip(basic_registry.host, unique_repo, store, other_store)
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "imgtuitest"}))
    assert auth.lookup("elsewhere.example:5000") is None


def test_hub_names_and_keys() -> None:
    from imgtui.registry.client import api_host

    assert api_host("docker.io") == "registry-1.docker.io"
    assert auth.server_key("docker.io") == "https://index.docker.io/v1/"
    assert auth.server_key("127.0.0.1:5000") == "127.0.0.1:5000"


def test_tls_with_private_ca(
    tls_registry: Registry,
    tls_material,
    unique_repo: str,
    store: Store,
    other_store: Store,
    tmp_path,
    monkeypatch,
) -> None:
    host = tls_registry.host
    with pytest.raises(RegistryError, match="certificate"):
        pull(store, f"{host}/{unique_repo}:v1")
    ca, _, _ = tls_material
    certs = tmp_path / "certs.d" / host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(ca.read_bytes())
    _round_trip(host, unique_repo, store, other_store)


def test_insecure_list_skips_verification(
    tls_registry: Registry, unique_repo: str, store: Store, other_store: Store, monkeypatch
) -> None:
    monkeypatch.setenv("IMGTUI_INSECURE_REGISTRIES", f"other:1,{tls_registry.host}")
    _round_trip(tls_registry.host, unique_repo, store, other_store)


def test_plain_http_only_for_loopback(monkeypatch) -> None:
    from imgtui.registry.client import RegistryClient

    assert RegistryClient("127.0.0.1:5000").plain_ok
    assert RegistryClient("[::1]:5000").plain_ok
    assert RegistryClient("localhost:5000").plain_ok
    assert not RegistryClient("registry.example.com").plain_ok
    assert RegistryClient("registry.example.com").url("/v2/").startswith("https://")
    monkeypatch.setenv("IMGTUI_INSECURE_REGISTRIES", "registry.example.com")
    assert RegistryClient("registry.example.com").plain_ok
