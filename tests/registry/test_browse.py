"""registry ls: the catalog and a repository's tags, paginated; remote images without pulling."""

from __future__ import annotations

import json
import subprocess

import pytest

from imgtui.registry import browse
from imgtui.store import archive
from imgtui.store.layout import Store
from tests.registry.helpers import push
from tests.registry.images import make_image, oci_layout_with_index

pytestmark = pytest.mark.registry


@pytest.fixture
def repo_with_tags(registry: str, unique_repo: str, tmp_path) -> dict[str, str]:
    """Three tags of one repository, one of them multi-platform; tag -> digest."""
    store = Store.open(tmp_path / "src")
    out = {}
    for tag in ("v1", "v2"):
        ref = f"{registry}/{unique_repo}:{tag}"
        out[tag] = make_image(store, ref, f"browse-{unique_repo}-{tag}", layers=2).digest
        push(store, ref, store.read_index().get(ref).descriptor)
    out["multi"] = oci_layout_with_index(
        tmp_path / "m", f"browse-{unique_repo}", ("amd64", "arm64")
    )
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--dest-tls-verify=false",
            f"oci:{tmp_path / 'm' / 'layout'}:multi",
            f"docker://{registry}/{unique_repo}:multi",
        ],
        check=True,
        capture_output=True,
    )
    return out


def test_tags_api(registry: str, unique_repo: str, repo_with_tags) -> None:
    rows = browse.tags(registry, unique_repo, page_size=1)  # one tag per page: Link followed
    assert sorted(r.tag for r in rows) == ["multi", "v1", "v2"]
    by_tag = {r.tag: r for r in rows}
    for tag, digest in repo_with_tags.items():
        assert by_tag[tag].digest == digest
    assert by_tag["multi"].platforms == ("linux/amd64", "linux/arm64")
    assert by_tag["v1"].platforms == ("linux/amd64",)
    assert by_tag["v1"].size > 2 * (64 << 10) * 0.9  # two incompressible 64 KiB layers
    assert by_tag["v1"].created is not None and by_tag["v1"].created.year == 2024


def test_catalog_pagination(registry: str, unique_repo: str, repo_with_tags) -> None:
    listing = browse.repositories(registry, page_size=1)
    assert unique_repo in listing.repositories
    assert len(listing.repositories) == len(set(listing.repositories))


def test_remote_image(registry: str, unique_repo: str, repo_with_tags) -> None:
    image = browse.remote_image(f"{registry}/{unique_repo}:multi", platform="linux/arm64")
    assert image.digest == repo_with_tags["multi"]
    assert image.platform == "linux/arm64"
    assert image.config["architecture"] == "arm64"
    assert len(image.layers) == 1 and image.size == image.layers[0].size
    assert [h.created_by for h in image.history] == [f"layer 0 of browse-{unique_repo}-arm64"]
    assert image.history[0].size == image.layers[0].size
    host = browse.remote_image(f"{registry}/{unique_repo}:multi")
    assert host.platform.split("/")[1] == archive.host_platform()[1]


def test_cli(registry: str, unique_repo: str, repo_with_tags, cli) -> None:
    out = cli("registry", "ls", registry, "-n", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].strip() == "REPOSITORY"
    assert f"{registry}/{unique_repo}" in out.stdout.split()

    out = cli("registry", "ls", f"{registry}/{unique_repo}")
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0].split()
    assert header == ["REPOSITORY", "TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED"]
    assert "linux/amd64,linux/arm64" in out.stdout

    out = cli("registry", "ls", f"{registry}/{unique_repo}", "--format", "json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["Tag"]: r["Digest"] for r in rows} == repo_with_tags


def test_cli_errors(registry: str, unique_repo: str, cli) -> None:
    out = cli("registry", "ls", f"{registry}/{unique_repo}-none")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and f"{unique_repo}-none" in out.stderr
    out = cli("registry", "ls", f"{registry}/{unique_repo}:v1")
    assert out.returncode == 2 and "not a tag" in out.stderr
    out = cli("registry", "ls", "127.0.0.1:notaport")
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1
    out = cli("registry")
    assert out.returncode == 2
