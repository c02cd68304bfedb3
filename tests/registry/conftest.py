"""Registry variants started once per session (basic auth, token auth, TLS, a fault proxy).

Each fails the tests that need it, with the reason, when it cannot start; none skips. Every
test gets its own DOCKER_CONFIG, so no test reads or writes the real ~/.docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from imgtui.store.layout import Store
from tests.registry.services import FaultProxy, Registry, TokenIssuer, make_ca_and_server_cert

USER, PASSWORD = "alice", "s3cret-pass"


def _started(request: pytest.FixtureRequest, what: str, start):
    try:
        thing = start()
    except Exception as e:
        pytest.fail(f"{what} unavailable: {e}", pytrace=False)
    request.addfinalizer(thing.stop)
    return thing


@pytest.fixture(scope="session")
def basic_registry(request: pytest.FixtureRequest, tmp_path_factory) -> Registry:
    """A registry behind htpasswd (bcrypt) basic auth: USER / PASSWORD."""
    root = tmp_path_factory.mktemp("basic-registry")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    (root / "htpasswd").write_text(f"{USER}:{hashed}\n")
    extra = f"auth:\n  htpasswd:\n    realm: imgtui-test\n    path: {root / 'htpasswd'}\n"
    return _started(request, "basic-auth registry", Registry(root / "r", extra).start)


@pytest.fixture(scope="session")
def token_issuer(request: pytest.FixtureRequest, tmp_path_factory) -> TokenIssuer:
    root = tmp_path_factory.mktemp("token-issuer")
    return _started(request, "token issuer", lambda: TokenIssuer(root, {USER: PASSWORD}))


@pytest.fixture(scope="session")
def token_registry(
    request: pytest.FixtureRequest, tmp_path_factory, token_issuer: TokenIssuer
) -> Registry:
    """A registry that trusts bearer tokens signed by `token_issuer`."""
    root = tmp_path_factory.mktemp("token-registry")
    return _started(request, "token registry", Registry(root, token_issuer.config()).start)


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory) -> tuple[Path, Path, Path]:
    return make_ca_and_server_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_registry(
    request: pytest.FixtureRequest, tmp_path_factory, tls_material: tuple[Path, Path, Path]
) -> Registry:
    """A registry serving HTTPS with a certificate from a private CA."""
    _, cert, key = tls_material
    root = tmp_path_factory.mktemp("tls-registry")
    return _started(request, "TLS registry", Registry(root, tls=(cert, key)).start)


@pytest.fixture(scope="session")
def proxy_session(request: pytest.FixtureRequest, registry: str) -> FaultProxy:
    return _started(request, "fault proxy", lambda: FaultProxy(registry))


@pytest.fixture
def proxy(proxy_session: FaultProxy) -> Iterator[FaultProxy]:
    """The fault proxy in front of the session registry, with no fault armed."""
    proxy_session.clear()
    yield proxy_session
    proxy_session.clear()


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG and no certs.d or insecure list leaking in from outside."""
    d = tmp_path / "docker-config"
    d.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    monkeypatch.setenv("IMGTUI_CERTS_D", str(tmp_path / "certs.d"))
    monkeypatch.delenv("IMGTUI_INSECURE_REGISTRIES", raising=False)
    monkeypatch.delenv("IMGTUI_REGISTRY_TIMEOUT", raising=False)
    return d


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


@pytest.fixture
def other_store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "other-store")


@pytest.fixture
def cli(tmp_path: Path):
    """Run `imgtui --backend builtin --store STORE …` in a fresh process, as a user would."""

    def run(*args: str, store: Path | None = None, input: str | None = None):
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "imgtui",
                "--backend",
                "builtin",
                "--store",
                str(store or tmp_path / "store"),
                *args,
            ],
            env=env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )

    return run
