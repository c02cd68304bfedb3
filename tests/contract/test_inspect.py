"""inspect(): every field, the raw `docker image inspect` shape, and the ways to name an image."""

from __future__ import annotations

import json

import pytest

from imgtui.backends.base import (
    Backend,
    ImageDetail,
    ImageNotFound,
    InvalidReference,
)
from tests.contract.archives import NONCE_LABEL
from tests.contract.harness import Harness
from tests.contract.helpers import IMAGE_ID, assert_aware, assert_same_second, assert_user_message

pytestmark = pytest.mark.engine


def test_inspect_fields_of_a_configured_image(harness: Harness, backend: Backend) -> None:
    img = harness.put("configured", tags=("v1", "v2"))
    d = backend.inspect(img.refs[0])
    assert isinstance(d, ImageDetail)
    assert d.id == img.id
    assert IMAGE_ID.match(d.id)
    assert sorted(d.repo_tags) == sorted(img.refs)
    assert d.repo_digests == ()  # loaded, never pushed or pulled
    assert_aware(d.created)
    assert_same_second(d.created, img.created)
    assert d.size > 0
    [summary] = [s for s in backend.images() if s.id == img.id]
    assert d.size == summary.size
    assert d.architecture == img.config["architecture"]
    assert d.os == img.config["os"] == "linux"
    assert d.layers == img.diff_ids
    assert len(d.layers) == 3
    assert all(layer.startswith("sha256:") for layer in d.layers)

    c = d.config
    assert c.env == ("PATH=/bin", "APP_HOME=/srv/app", "MODE=test")
    assert c.entrypoint == ("/bin/sh", "-c")
    assert c.cmd == ("echo hello",)
    assert c.working_dir == "/srv/app"
    assert c.user == "nobody"
    assert set(c.exposed_ports) == {"8080/tcp", "53/udp"}
    assert dict(c.labels) == {
        "org.example.role": "contract-test",
        "org.example.version": "1.2",
        NONCE_LABEL: img.config["config"]["Labels"][NONCE_LABEL],
    }
    assert c.volumes == ()


def test_inspect_inherited_config_of_a_layered_image(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered")
    d = backend.inspect(img.ref)
    assert d.config.cmd == ("sh",)  # from the base image
    assert d.config.entrypoint is None
    assert d.config.env == ("PATH=/bin", "GREETING=hi")
    assert d.config.user == ""
    assert d.config.working_dir == ""
    assert d.config.exposed_ports == ()
    assert d.layers == img.diff_ids
    assert len(d.layers) == 3
    base = harness.sources["base"].config["rootfs"]["diff_ids"]
    assert list(d.layers[: len(base)]) == base


def test_raw_is_shaped_like_docker_image_inspect(harness: Harness, backend: Backend) -> None:
    img = harness.put("configured")
    d = backend.inspect(img.ref)
    raw = d.raw
    json.dumps(raw)  # printable as JSON
    assert raw["Id"] == img.id
    assert raw["RepoTags"] == [img.ref]
    assert isinstance(raw["RepoDigests"], list)
    assert raw["Architecture"] == d.architecture
    assert raw["Os"] == "linux"
    assert raw["Size"] == d.size
    assert isinstance(raw["Created"], str) and raw["Created"].startswith(img.config["created"][:19])
    assert raw["Config"]["Env"] == list(d.config.env)
    assert raw["Config"]["Cmd"] == ["echo hello"]
    assert raw["Config"]["Entrypoint"] == ["/bin/sh", "-c"]
    assert raw["Config"]["WorkingDir"] == "/srv/app"
    assert raw["Config"]["User"] == "nobody"
    assert set(raw["Config"]["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert raw["Config"]["Labels"]["org.example.role"] == "contract-test"
    assert raw["RootFS"]["Type"] == "layers"
    assert raw["RootFS"]["Layers"] == list(img.diff_ids)


@pytest.mark.parametrize(
    "form",
    [
        "short id",
        "full id",
        "hex id",
        "name:tag",
        "name (implicit latest)",
        "docker.io/name:tag",
        "docker.io/name",
    ],
)
def test_inspect_by_any_name(harness: Harness, backend: Backend, form: str) -> None:
    img = harness.put("layered", tags=("latest",))
    hex_id = img.id.removeprefix("sha256:")
    ref = {
        "short id": hex_id[:12],
        "full id": img.id,
        "hex id": hex_id,
        "name:tag": f"{harness.repo}:latest",
        "name (implicit latest)": harness.repo,
        "docker.io/name:tag": f"docker.io/{harness.repo}:latest",
        "docker.io/name": f"docker.io/{harness.repo}",
    }[form]
    d = backend.inspect(ref)
    assert d.id == img.id
    assert d.repo_tags == (f"{harness.repo}:latest",)  # always the familiar form


def test_inspect_a_dangling_image_by_id(harness: Harness, backend: Backend) -> None:
    img = harness.put("layered", tags=())
    d = backend.inspect(img.id)
    assert d.id == img.id
    assert d.repo_tags == ()


def test_inspect_unknown_image(harness: Harness, backend: Backend) -> None:
    missing = harness.ref("missing")
    with pytest.raises(ImageNotFound) as e:
        backend.inspect(missing)
    assert_user_message(e.value, missing)


def test_inspect_unknown_id(backend: Backend) -> None:
    with pytest.raises(ImageNotFound) as e:
        backend.inspect("sha256:" + "0" * 64)
    assert_user_message(e.value, "0" * 12)


def test_inspect_invalid_reference(backend: Backend) -> None:
    with pytest.raises((InvalidReference, ImageNotFound)) as e:
        backend.inspect("Imgtui-Test/UPPER:case")
    assert_user_message(e.value, "Imgtui-Test/UPPER")
