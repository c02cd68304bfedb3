"""imgtui's CLI beside the real docker CLI on the same engine: same rows, same words, same bytes.

Images under test are loaded from archives whose `created` lies years back, so the CREATED column
("6 years ago") cannot change between the two commands. Comparisons are scoped to this module's
own repositories, so other tests' images never enter them.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.contract.archives import SourceArchive, config_bytes, variant

OLD = datetime(2020, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def base_archive(docker_client, base_image, tmp_path_factory) -> SourceArchive:
    path = tmp_path_factory.mktemp("cli-vs-docker") / "base.tar"
    with path.open("wb") as f:
        for chunk in docker_client.api.get_image(base_image):
            f.write(chunk)
    return SourceArchive(
        "base", path, "imgtui-test/busybox:latest", base_image, json.loads(config_bytes(path))
    )


@pytest.fixture
def load_old(docker_client, base_archive, tmp_path):
    """Load a fresh image (own id, one extra layer) created in 2020, tagged with `refs`."""
    loaded: list[str] = []

    def load(*refs: str, extra_layer: bool = True) -> str:
        # Distinct days: the daemon's order of images created in the same second is arbitrary.
        created = OLD + timedelta(days=len(loaded))
        dest = tmp_path / f"{uuid.uuid4().hex}.tar"
        image = variant(base_archive, dest, refs, created=created, extra_layer=extra_layer)
        with dest.open("rb") as f:
            for _ in docker_client.api.load_image(f.read()):
                pass
        loaded.append(image.id)
        return image.id

    yield load
    for image_id in loaded:
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(image_id, force=True)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["Repository"], r["Tag"], r["ID"], r.get("Digest", "")))


def test_images_json_same_ids_and_tags_as_docker(docker_cli, imgtui_cli, load_old, unique_repo):
    load_old(f"{unique_repo}:one", f"{unique_repo}:two", f"{unique_repo}-x:latest")
    load_old(f"{unique_repo}:three")
    for pattern in (unique_repo, f"{unique_repo}*"):
        theirs = _json_lines(docker_cli("images", "--format", "{{json .}}", pattern).stdout)
        ours = _json_lines(imgtui_cli("images", "--format", "json", pattern).stdout)
        assert len(theirs) == (3 if pattern == unique_repo else 4)
        assert _sorted(ours) == _sorted(theirs)


def test_images_whole_engine_json_matches(docker_cli, imgtui_cli, load_old, unique_repo):
    """Every image of the engine, not only ours: ids, repositories and tags agree."""
    load_old(f"{unique_repo}:a")

    def key(rows: list[dict]) -> list[tuple[str, str, str]]:
        return sorted((r["ID"], r["Repository"], r["Tag"]) for r in rows)

    theirs = key(_json_lines(docker_cli("image", "ls", "--format", "{{json .}}").stdout))
    ours = key(_json_lines(imgtui_cli("images", "--format", "json").stdout))
    assert ours == theirs
    assert len(ours) >= 2


@pytest.mark.parametrize(
    "flags",
    [(), ("--no-trunc",), ("-q",), ("--digests",), ("-a",), ("--filter", "dangling=false")],
    ids=lambda f: " ".join(f) or "plain",
)
def test_images_table_matches_docker_byte_for_byte(
    docker_cli, imgtui_cli, load_old, unique_repo, flags
):
    load_old(f"{unique_repo}:one", f"{unique_repo}:two")
    load_old(f"{unique_repo}:with-a-much-longer-tag-name")
    theirs = docker_cli("images", *flags, unique_repo).stdout
    ours = imgtui_cli("images", *flags, unique_repo).stdout
    assert ours == theirs


def test_history_matches_docker_row_for_row(docker_cli, imgtui_cli, load_old, unique_repo):
    ref = f"{unique_repo}:hist"
    load_old(ref)
    for flags in ((), ("--no-trunc",), ("-q",), ("-H=false",)):
        theirs = docker_cli("history", *flags, ref).stdout
        ours = imgtui_cli("history", *flags, ref).stdout
        assert ours == theirs, flags
    for flags in ((), ("--no-trunc",), ("-H=false",)):
        theirs = _json_lines(docker_cli("history", *flags, "--format", "{{json .}}", ref).stdout)
        ours = _json_lines(imgtui_cli("history", *flags, "--format", "json", ref).stdout)
        assert ours == theirs, flags


def test_history_of_a_built_image_matches(
    docker_cli, imgtui_cli, docker_client, base_image, tmp_path, unique_repo
):
    """A classic-builder image: <missing>-free ids, #(nop) lines, sizes; CREATED is recent here,
    so compare every column but that one."""
    from tests.conftest import build_image

    ref = f"{unique_repo}:built"
    build_image(
        docker_client,
        tmp_path,
        ref,
        "FROM imgtui-test/busybox:latest\n"
        "RUN echo hello > /hello.txt && dd if=/dev/zero of=/zero bs=1k count=20 2>/dev/null\n"
        'ENV A=1 B="two words"\nLABEL x=y\nCMD ["sh", "-c", "echo hi"]\n',
    )
    try:
        fields = "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"
        theirs = docker_cli("history", "--no-trunc", "--format", fields, ref).stdout.splitlines()
        ours = [
            f"{r['ID']}|{r['CreatedBy']}|{r['Size']}|{r['Comment']}"
            for r in _json_lines(
                imgtui_cli("history", "--no-trunc", "--format", "json", ref).stdout
            )
        ]
        assert ours == theirs
        assert len(ours) == 5
    finally:
        docker_client.api.remove_image(ref, force=True)


def test_df_totals_match_docker(docker_cli, imgtui_cli, load_old, unique_repo):
    load_old(f"{unique_repo}:df")
    theirs = _json_lines(docker_cli("system", "df", "--format", "{{json .}}").stdout)
    ours = _json_lines(imgtui_cli("df", "--format", "json").stdout)
    assert ours == theirs
    assert imgtui_cli("df").stdout == docker_cli("system", "df").stdout


def test_df_verbose_image_rows_match(docker_cli, imgtui_cli, load_old, unique_repo):
    load_old(f"{unique_repo}:v1")
    load_old(f"{unique_repo}:v2")

    def ours_rows(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(unique_repo)]

    theirs = ours_rows(docker_cli("system", "df", "-v").stdout)
    ours = ours_rows(imgtui_cli("df", "-v").stdout)
    assert len(theirs) == 2
    # Column widths depend on every image of the engine; compare cell by cell.
    assert [re.split(r"\s{2,}", r) for r in ours] == [re.split(r"\s{2,}", r) for r in theirs]


def test_tag_prints_what_docker_prints(docker_cli, imgtui_cli, load_old, unique_repo):
    image = load_old(f"{unique_repo}:src")
    theirs = docker_cli("tag", image, f"{unique_repo}:by-docker")
    ours = imgtui_cli("tag", image, f"{unique_repo}:by-imgtui")
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, "", "")
    listed = imgtui_cli("images", "--format", "json", unique_repo).stdout
    assert {r["Tag"] for r in _json_lines(listed)} == {"src", "by-docker", "by-imgtui"}


def test_tag_refuses_what_docker_refuses(docker_cli, imgtui_cli, load_old, unique_repo):
    image = load_old(f"{unique_repo}:src")
    for bad in (f"{unique_repo}:Bad Tag", "UPPER/case:x", f"{unique_repo}@sha256:{'0' * 64}"):
        theirs = docker_cli("tag", image, bad, check=False)
        ours = imgtui_cli("tag", image, bad, check=False)
        assert theirs.returncode != 0 and ours.returncode != 0, bad
        assert ours.stdout == ""
        assert len(ours.stderr.strip().splitlines()) == 1, ours.stderr
        assert "Traceback" not in ours.stderr


def test_rmi_prints_what_docker_prints(
    docker_cli, imgtui_cli, docker_client, base_archive, tmp_path, unique_repo
):
    """The same archive loaded twice gives the same ids, so the two outputs can match exactly."""
    archive = tmp_path / "rmi.tar"
    variant(base_archive, archive, [f"{unique_repo}:a", f"{unique_repo}:b"], created=OLD,
            extra_layer=True)  # fmt: skip
    data = archive.read_bytes()

    def load() -> None:
        for _ in docker_client.api.load_image(data):
            pass

    outputs = {}
    for name, cli in (("docker", docker_cli), ("imgtui", imgtui_cli)):
        load()
        untag = cli("rmi", f"{unique_repo}:a")
        delete = cli("rmi", f"{unique_repo}:b")
        outputs[name] = (untag.stdout, delete.stdout)
    assert outputs["imgtui"] == outputs["docker"]
    untag_out, delete_out = outputs["imgtui"]
    assert untag_out == f"Untagged: {unique_repo}:a\n"
    assert delete_out.startswith(f"Untagged: {unique_repo}:b\nDeleted: sha256:")


def test_rmi_in_use_is_refused_with_the_container_named(
    imgtui_cli, docker_client, load_old, unique_repo
):
    ref = f"{unique_repo}:used"
    load_old(ref)
    container = docker_client.api.create_container(ref, "true", host_config=None)
    try:
        res = imgtui_cli("rmi", ref, check=False)
        assert res.returncode == 1
        assert container["Id"][:12] in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        forced = imgtui_cli("rmi", "-f", ref)
        assert forced.stdout.startswith(f"Untagged: {ref}")
    finally:
        docker_client.api.remove_container(container["Id"], force=True)


def test_inspect_is_dockers_json(docker_cli, imgtui_cli, load_old, unique_repo):
    ref = f"{unique_repo}:insp"
    load_old(ref)
    assert json.loads(imgtui_cli("inspect", ref).stdout) == json.loads(
        docker_cli("image", "inspect", ref).stdout
    )
    missing = imgtui_cli("inspect", ref, f"{unique_repo}:missing", check=False)
    assert missing.returncode == 1
    assert len(json.loads(missing.stdout)) == 1
    assert "No such image" in missing.stderr


def test_ps_matches_docker(docker_cli, imgtui_cli, docker_client, load_old, unique_repo):
    ref = f"{unique_repo}:ps"
    load_old(ref)
    name = f"imgtui-ps-{uuid.uuid4().hex[:8]}"
    docker_client.api.create_container(
        ref, ["sh", "-c", "echo a long command line here"], name=name
    )
    try:
        theirs = [
            r for r in _json_lines(docker_cli("ps", "-a", "--format", "{{json .}}").stdout)
            if r["Names"] == name
        ]  # fmt: skip
        ours = [r for r in _json_lines(imgtui_cli("ps", "-a", "--format", "json").stdout)
                if r["Names"] == name]  # fmt: skip
        assert len(theirs) == 1 and len(ours) == 1
        for key in ("ID", "Image", "Command", "State", "Status", "Names", "CreatedAt"):
            assert ours[0][key] == theirs[0][key], key
        assert name not in imgtui_cli("ps").stdout  # not running
    finally:
        docker_client.api.remove_container(name, force=True)


def test_errors_are_one_line_with_docker_exit_codes(imgtui_cli, unique_repo):
    missing = imgtui_cli("history", f"{unique_repo}:nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: ") and "No such image" in missing.stderr
    usage = imgtui_cli("images", "--bogus", check=False)
    assert usage.returncode == 2
    bad_filter = imgtui_cli("images", "--filter", "colour=blue", check=False)
    assert bad_filter.returncode == 2 and "invalid filter" in bad_filter.stderr


def test_daemon_unreachable_is_one_line_exit_1(tmp_path: Path):
    import subprocess
    import sys

    for host in (f"unix://{tmp_path}/none.sock", "tcp://127.0.0.1:1"):
        res = subprocess.run(
            [sys.executable, "-m", "imgtui", "-H", host, "images"], capture_output=True, text=True
        )
        assert res.returncode == 1
        assert res.stderr.startswith(f"Error: cannot connect to the Docker daemon at {host}")
        assert len(res.stderr.strip().splitlines()) == 1
