"""The registry client's pure parts: challenges, Link headers, platform choice, config.json."""

from __future__ import annotations

import base64
import json

import pytest

from imgtui.backends.base import AuthError, ImageNotFound
from imgtui.registry import auth
from imgtui.registry.client import _next_link, is_loopback, parse_challenge
from imgtui.registry.pull import choose
from imgtui.store.oci import Descriptor

D = "sha256:" + "a" * 64
E = "sha256:" + "b" * 64
F = "sha256:" + "c" * 64


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_next_link() -> None:
    assert _next_link('</v2/_catalog?last=b&n=2>; rel="next"') == "/v2/_catalog?last=b&n=2"
    assert _next_link("") is None
    assert _next_link('</x>; rel="prev"') is None


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("127.8.9.1") and is_loopback("[::1]:80")
    assert is_loopback("localhost:5000")
    assert not is_loopback("10.0.0.1:5000") and not is_loopback("registry.example.com")


def _entry(digest: str, arch: str, variant: str | None = None, os_: str = "linux") -> Descriptor:
    platform = {"os": os_, "architecture": arch}
    if variant:
        platform["variant"] = variant
    return Descriptor("application/vnd.oci.image.manifest.v1+json", digest, 10, platform=platform)


def test_choose_platform() -> None:
    entries = [_entry(D, "arm", "v6"), _entry(E, "arm", "v7"), _entry(F, "amd64")]
    assert choose(entries, ("linux", "arm", "v7"), "x").digest == E
    assert choose(entries, ("linux", "amd64", None), "x").digest == F
    with pytest.raises(ImageNotFound, match="linux/arm/v8"):
        choose(entries, ("linux", "arm", "v8"), "x")
    attestation = [_entry(D, "unknown", os_="unknown"), _entry(E, "amd64")]
    assert choose(attestation, ("linux", "amd64", None), "x").digest == E


def test_config_json_lookup(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert auth.lookup("reg.example:5000") is None  # no file: anonymous
    token = base64.b64encode(b"bob:pw:with:colons").decode()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "reg.example:5000": {"auth": token},
                    "https://index.docker.io/v1/": {"username": "hub", "password": "x"},
                    "bad.example": {"auth": "%%%"},
                }
            }
        )
    )
    assert auth.lookup("reg.example:5000") == auth.Credentials("bob", "pw:with:colons")
    assert auth.lookup("docker.io") == auth.Credentials("hub", "x")
    with pytest.raises(AuthError, match="not base64"):
        auth.lookup("bad.example")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        auth.lookup("reg.example:5000")


def test_store_and_erase_keep_other_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"psFormat": "table {{.ID}}"}))
    auth.store("reg.example:5000", auth.Credentials("u", "p"))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["psFormat"] == "table {{.ID}}"
    assert base64.b64decode(config["auths"]["reg.example:5000"]["auth"]) == b"u:p"
    assert auth.erase("reg.example:5000") is True
    assert auth.erase("reg.example:5000") is False
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == {}


def test_missing_credential_helper(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nowhere"}))
    with pytest.raises(AuthError, match="docker-credential-nowhere is not installed"):
        auth.lookup("reg.example:5000")
