"""Analysis of images built on the real engine: Docker backend, built-in store, CLI, vs dive.

The image is built once per session from the test busybox with steps that leave whiteouts,
a removed folder, a replaced folder, hard and symbolic links, overwrites and a deleted COPY.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imgtui.backends.builtin import BuiltinBackend
from imgtui.backends.docker_sdk import DockerBackend
from tests.analysis.conftest import dive_figures
from tests.conftest import build_image

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM imgtui-test/busybox:latest
RUN mkdir -p /data/cache /data/keep && head -c 200000 /dev/zero > /data/cache/blob \\
 && echo a > /data/keep/a && ln /data/keep/a /data/keep/hard && ln -s /data/keep/a /data/keep/sym
RUN rm -rf /data/cache && echo bb > /data/keep/a
RUN rm -rf /data/keep && mkdir /data/keep && echo new > /data/keep/new
COPY big.bin /big.bin
RUN rm /big.bin
ENV MODE=test
CMD ["sh", "-c", "echo hi"]
"""


@pytest.fixture(scope="session")
def built(docker_client, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The test image in the engine, its `docker save` tarball, and dive's figures for it."""
    work = tmp_path_factory.mktemp("analysis-build")
    (work / "big.bin").write_bytes(b"\x01" * 150_000)
    tag = "imgtui-test/analysis:built"
    image_id = build_image(docker_client, work, tag, DOCKERFILE)
    archive = work / "built.tar"
    with archive.open("wb") as out:
        for chunk in docker_client.api.get_image(tag):
            out.write(chunk)
    return {
        "tag": tag,
        "id": image_id,
        "archive": archive,
        "dive": dive_figures(archive, work),
        "work": work,
    }


def _agrees_with_dive(a, dive: dict) -> None:
    assert a.size == dive["sizeBytes"]
    assert a.wasted_bytes == dive["inefficientBytes"]
    assert a.efficiency == pytest.approx(dive["efficiencyScore"], abs=1e-12)
    assert sorted((f.path, f.count, f.wasted) for f in a.inefficient) == sorted(
        (r["file"], r["count"], r["sizeBytes"]) for r in dive["fileReference"]
    )


def test_docker_backend_agrees_with_dive_and_caches(
    built: dict, docker_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = DockerBackend(host=docker_host)
    try:
        seen = []
        a = backend.analyze(built["tag"], trees=True, progress=seen.append)
        _agrees_with_dive(a, built["dive"])
        assert a.id == built["id"] and not a.cached
        assert len(seen) == len(a.layers)
        # the known steps: big.bin and the 200 kB blob are each written then removed
        wasted = {f.path: f for f in a.inefficient}
        assert wasted["/big.bin"].wasted == 150_000 and wasted["/big.bin"].count == 2
        # a folder written in one layer and removed in another is one discovery per path in
        # dive's terms: it lowers efficiency but is no "inefficient file"
        assert "/data/cache" not in wasted and a.efficiency < 0.99
        assert {n.path: n.change for n in a.layers[2].tree}["/data/cache"] == "removed"
        changes = {n.path: n.change for n in a.layers[-1].tree}
        assert changes["/big.bin"] == "removed"
        copy_layer = a.layers[-2]
        assert copy_layer.command.startswith("COPY") or "big.bin" in copy_layer.command
        assert a.config["Env"][-1] == "MODE=test"

        # a second look never starts an export
        def no_export(*args, **kwargs):
            raise AssertionError("exported although cached")

        monkeypatch.setattr(backend, "_api", no_export)
        again = backend.analyze(built["tag"])
        assert again.cached and again.wasted_bytes == a.wasted_bytes
    finally:
        backend.close()


def test_builtin_store_loaded_from_docker_save(built: dict, tmp_path: Path) -> None:
    store = tmp_path / "store"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "imgtui",
            "--store",
            str(store),
            "load",
            "-i",
            str(built["archive"]),
        ],
        check=True,
        capture_output=True,
    )
    backend = BuiltinBackend(store)
    try:
        a = backend.analyze(built["tag"], trees=True)
        _agrees_with_dive(a, built["dive"])
        assert (store / ".imgtui" / "cache" / "analysis" / "layers").is_dir()
        assert backend.analyze(built["tag"]).cached
        with pytest.raises(Exception, match="No such image"):
            backend.analyze("imgtui-test/nothing:here")
    finally:
        backend.close()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgtui",
            "--store",
            str(store),
            "analyze",
            "--format",
            "json",
            built["tag"],
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out)["inefficientBytes"] == built["dive"]["inefficientBytes"]


def test_cli_on_the_daemon(built: dict, imgtui_cli, base_image: str) -> None:
    data = json.loads(imgtui_cli("analyze", "--format", "json", built["tag"]).stdout)
    assert data["inefficientBytes"] == built["dive"]["inefficientBytes"]
    assert data["efficiencyScore"] == pytest.approx(built["dive"]["efficiencyScore"], abs=1e-12)
    failed = imgtui_cli("analyze", "--ci", built["tag"], check=False)
    assert failed.returncode == 1 and "Result:FAIL" in failed.stdout
    loose = imgtui_cli(
        "analyze",
        "--ci",
        "--lowest-efficiency",
        "0",
        "--highest-user-wasted-percent",
        "10",
        built["tag"],
        check=False,
    )
    assert loose.returncode == 0 and "Result:PASS" in loose.stdout
    missing = imgtui_cli("analyze", "imgtui-test/nothing:here", check=False)
    assert missing.returncode == 1
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and "No such image: imgtui-test/nothing:here" in lines[0]
    # the archive of the same image, read without the daemon, says the same
    same = json.loads(
        imgtui_cli("analyze", "--format", "json", f"docker-archive:{built['archive']}").stdout
    )
    assert same["inefficientBytes"] == data["inefficientBytes"]
    diff = json.loads(
        imgtui_cli("diff", "--format", "json", "imgtui-test/busybox:latest", built["tag"]).stdout
    )
    changes = {f["path"]: f["change"] for f in diff["files"]}
    assert changes["/data/keep/new"] == "added" and "/big.bin" not in changes
    assert {c["key"] for c in diff["config"]} >= {"Env", "Cmd"}
