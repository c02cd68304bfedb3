"""imgtui.fmt prints what the real docker CLI prints, byte for byte, for the same images.

The `docker` binary talks to the session's private engine. Images come from two places: small
builds on the busybox base, and `docker load` archives made here whose history carries chosen
dates, sizes and texts (wide, combining, emoji, tabs, newlines) that a build could not make.
The CREATED column depends on "now": each comparison renders with the clock read just before
and just after the CLI ran, and only compares when both give the same text (else it retries).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from imgtui.fmt import ellipsis, human_size, parse_timestamp, table, time_ago, truncate_id
from tests.conftest import build_image

pytestmark = pytest.mark.engine

UTC = timezone.utc
HISTORY_HEADERS = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
IMAGES_HEADERS = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
# Layer sizes around every rounding edge of "%.3g": docker's SIZE column for each.
LAYER_SIZES = [0, 999, 1000, 1001, 1125, 99_950, 999_499, 999_500, 1_982_000, 1_985_000]


@pytest.fixture(scope="module")
def docker_cli(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """Run the real docker CLI against the test engine, with an empty client config."""
    exe = shutil.which("docker")
    if exe is None:
        pytest.fail("the docker CLI is not installed", pytrace=False)
    config = tmp_path_factory.mktemp("docker-config")
    env = {**os.environ, "DOCKER_HOST": docker_host, "DOCKER_CONFIG": str(config)}
    env.pop("DOCKER_CONTEXT", None)

    def run(*args: str) -> str:
        done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


# --------------------------------------------------------------------------- made-up images


def _tar(members: Sequence[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def docker_archive(images: Sequence[dict[str, Any]]) -> bytes:
    """A `docker save` archive: each image has tags, created, history, layer sizes, labels."""
    members: list[tuple[str, bytes]] = []
    manifest = []
    for n, image in enumerate(images):
        diff_ids, paths = [], []
        for i, size in enumerate(image["layers"]):
            layer = _tar([(f"f{n}-{i}", b"\0" * size)])
            digest = hashlib.sha256(layer).hexdigest()
            diff_ids.append(f"sha256:{digest}")
            paths.append(f"{digest}/layer.tar")
            members.append((f"{digest}/layer.tar", layer))
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": _iso(image["created"]),
            "config": {"Cmd": ["sh"], "Labels": image.get("labels", {})},
            "history": image["history"],
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        data = json.dumps(config).encode()
        name = hashlib.sha256(data).hexdigest() + ".json"
        members.append((name, data))
        manifest.append({"Config": name, "RepoTags": image["tags"], "Layers": paths})
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return _tar(members)


def load(docker_client: Any, images: Sequence[dict[str, Any]]) -> None:
    for _ in docker_client.api.load_image(docker_archive(images)):
        pass


def _step(created: datetime | None, created_by: str, comment: str = "", empty: bool = True):
    entry: dict[str, Any] = {"created_by": created_by, "comment": comment}
    if created is not None:
        entry["created"] = _iso(created)
    if empty:
        entry["empty_layer"] = True
    return entry


WIDE_TEXTS = [
    "/bin/sh -c echo " + "日" * 20,  # a wide character ends exactly at column 44
    "/bin/sh -c echo  " + "日" * 20,  # …or straddles it
    "/bin/sh -c echo " + "e\u0301" * 30,  # combining accents
    "/bin/sh -c echo 👨\u200d👩\u200d👧 🇫🇷 한글 ＦＵＬＬ ok",
    "/bin/sh -c printf 'a\\tb'\twith\ttabs",
    "RUN <<EOF\necho hi\nEOF # buildkit",
    "x" * 45,
    "x" * 46,
    "",
]


@pytest.fixture(scope="module")
def made_up(docker_client: Any) -> str:
    """One loaded image whose history exercises sizes, ages and texts; returns its reference."""
    now = datetime.now(UTC)
    ages = [
        timedelta(seconds=40),
        timedelta(minutes=1, seconds=30),
        timedelta(minutes=25),
        timedelta(hours=1, minutes=20),  # About an hour
        timedelta(hours=1, minutes=40),  # 2 hours (hours round to nearest)
        timedelta(hours=47, minutes=45),  # rounds to 48 hours: "2 days"
        timedelta(days=13, hours=23, minutes=45),  # "2 weeks"
        timedelta(days=59, hours=23, minutes=45),  # "2 months"
        timedelta(days=400),
        timedelta(days=729, hours=23, minutes=45),  # docker says "1 years"
        timedelta(days=1200),
    ]
    history = [_step(now - age, f"/bin/sh -c #(nop)  LABEL age={age}") for age in ages]
    history += [
        _step(datetime(1999, 12, 31, tzinfo=UTC), "/bin/sh -c #(nop)  ENV OLD=1"),
        _step(datetime(2000, 1, 1, tzinfo=UTC), "/bin/sh -c #(nop)  ENV Y2K=1"),
        _step(datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC), "/bin/sh -c #(nop)  ENV AFTER=1"),
        _step(None, "/bin/sh -c #(nop)  ENV NODATE=1", "no date at all"),
    ]
    history += [
        _step(now - timedelta(days=3), text, comment=f"text {i} ☃")
        for i, text in enumerate(WIDE_TEXTS)
    ]
    history += [
        _step(now - timedelta(days=5), f"/bin/sh -c dd bs={size}", comment="", empty=False)
        for size in LAYER_SIZES
    ]
    history.reverse()  # config history is oldest first
    ref = f"imgtui-fmt/made-up{uuid.uuid4().hex[:8]}:latest"
    load(
        docker_client,
        [
            {
                "tags": [ref],
                "created": now - timedelta(days=3 * 365),
                "history": history,
                "layers": LAYER_SIZES[::-1],
            }
        ],
    )
    return ref


@pytest.fixture(scope="module")
def built(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A repository with two classic builds on the busybox base; returns the repository."""
    repo = f"imgtui-fmt/built{uuid.uuid4().hex[:8]}"
    build_image(
        docker_client,
        tmp_path_factory.mktemp("b1"),
        f"{repo}:one",
        "FROM imgtui-test/busybox\n"
        "LABEL purpose=fmt\n"
        "RUN dd if=/dev/zero of=/f bs=999500 count=1\n",
    )
    # The daemon orders images by creation second and leaves ties in arbitrary order.
    time.sleep(1.1)
    build_image(
        docker_client,
        tmp_path_factory.mktemp("b2"),
        f"{repo}:two",
        "FROM imgtui-test/busybox\n"
        "ENV GREETING=こんにちは\n"
        "RUN echo 日本語のテキスト $GREETING > /greeting && dd if=/dev/zero of=/g bs=1125 count=1\n"
        'CMD ["cat", "/greeting"]\n',
    )
    docker_client.api.tag(f"{repo}:two", repo, "also-two")
    return repo


# --------------------------------------------------------------------------- rendering like docker


def _created(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def history_table(docker_client: Any, ref: str, now: datetime, *, trunc: bool = True) -> str:
    rows = []
    for h in docker_client.api.history(ref):
        created_by = h["CreatedBy"].replace("\t", " ")
        rows.append(
            [
                truncate_id(h["Id"]) if trunc else h["Id"],
                time_ago(_created(h["Created"]), now, history=True),
                ellipsis(created_by, 45) if trunc else created_by,
                human_size(h["Size"]),
                h["Comment"],
            ]
        )
    return table(HISTORY_HEADERS, rows)


def images_table(docker_client: Any, repo: str, now: datetime) -> str:
    rows = []
    for image in docker_client.api.images(name=repo):
        for ref in image["RepoTags"] or ["<none>:<none>"]:
            name, _, tag = ref.rpartition(":")
            rows.append(
                [
                    name,
                    tag,
                    truncate_id(image["Id"]),
                    time_ago(_created(image["Created"]), now),
                    human_size(image["Size"]),
                ]
            )
    return table(IMAGES_HEADERS, rows)


def same_as_docker(render: Callable[[datetime], str], run: Callable[[], str]) -> tuple[str, str]:
    """(docker's output, ours) for a moment when "now" gave one text before and after the run."""
    for _ in range(10):
        before = datetime.now(UTC)
        out = run()
        after = datetime.now(UTC)
        ours = render(before)
        if ours == render(after):
            return out, ours
    pytest.fail("the CREATED column kept changing during the comparison")


def _columns(line: str) -> list[str]:
    return re.split(r" {3,}", line.rstrip(" "))


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("trunc", [True, False], ids=["trunc", "no-trunc"])
def test_history_table_is_byte_identical(docker_cli, docker_client, made_up: str, trunc) -> None:
    args = ["history", made_up] if trunc else ["history", "--no-trunc", made_up]
    out, ours = same_as_docker(
        lambda now: history_table(docker_client, made_up, now, trunc=trunc),
        lambda: docker_cli(*args),
    )
    assert ours == out
    assert out.count("\n") >= 30


def test_history_sizes_read_as_docker_prints_them(docker_cli, made_up: str) -> None:
    out = docker_cli("history", "--format", "{{.Size}}", made_up).split()
    expected = [human_size(s) for s in LAYER_SIZES]
    assert out[-len(LAYER_SIZES) :] == expected  # the sized layers are the oldest steps
    # the surprising ones, as docker itself shows them
    assert expected == [
        "0B",
        "999B",
        "1kB",
        "1kB",
        "1.12kB",
        "100kB",
        "999kB",
        "1e+03kB",
        "1.98MB",
        "1.99MB",
    ]


def test_history_ages_match_every_boundary(docker_cli, docker_client, made_up: str) -> None:
    out, ours = same_as_docker(
        lambda now: (
            "\n".join(
                time_ago(_created(h["Created"]), now, history=True)
                for h in docker_client.api.history(made_up)
            )
            + "\n"
        ),
        lambda: docker_cli("history", "--format", "{{.CreatedSince}}", made_up),
    )
    assert ours == out
    ages = out.splitlines()
    assert "1 years ago" in ages  # go-units' rounding quirk just under two years
    assert ages.count("N/A") == 3  # 1999-12-31, 2000-01-01 itself, and no date
    assert {"About an hour ago", "2 hours ago", "2 days ago", "2 weeks ago", "2 months ago"} <= set(
        ages
    )


def test_history_of_builds_is_byte_identical(docker_cli, docker_client, built: str) -> None:
    for tag in ("one", "two"):
        for trunc in (True, False):
            ref = f"{built}:{tag}"
            args = ["history", ref] if trunc else ["history", "--no-trunc", ref]
            out, ours = same_as_docker(
                lambda now, ref=ref, trunc=trunc: history_table(
                    docker_client, ref, now, trunc=trunc
                ),
                lambda args=args: docker_cli(*args),
            )
            assert ours == out


def test_images_table_is_byte_identical(docker_cli, docker_client, built: str) -> None:
    out, ours = same_as_docker(
        lambda now: images_table(docker_client, built, now),
        lambda: docker_cli("images", built),
    )
    assert ours == out
    assert len(out.splitlines()) == 4  # header, one, two, also-two


def test_images_table_with_old_and_odd_dates(docker_cli, docker_client) -> None:
    repo = f"imgtui-fmt/dates{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    dates_and_sizes = {
        "epoch": (datetime(1970, 1, 1, tzinfo=UTC), 999_500),
        "y2k": (datetime(2000, 1, 1, tzinfo=UTC), 0),
        "weeks": (now - timedelta(days=20), 99_950),
        "future": (now + timedelta(days=2), 1),
    }
    load(
        docker_client,
        [
            {
                "tags": [f"{repo}:{tag}"],
                "created": created,
                "history": [_step(created, "/bin/sh -c dd", empty=False)],
                "layers": [size],
            }
            for tag, (created, size) in dates_and_sizes.items()
        ],
    )
    out, ours = same_as_docker(
        lambda now: images_table(docker_client, repo, now),
        lambda: docker_cli("images", repo),
    )
    assert ours == out
    rows = {_columns(line)[1]: _columns(line) for line in out.splitlines()[1:]}
    assert rows["future"][3] == "Less than a second ago"
    assert rows["weeks"][3] == "2 weeks ago"
    assert rows["epoch"][3].endswith("years ago")  # `docker images` has no N/A rule for 1970
    assert rows["epoch"][4] == "1e+03kB"
    assert rows["weeks"][4] == "100kB"
    assert rows["y2k"][3].endswith("years ago") and rows["y2k"][4] == "0B"


# --------------------------------------------------------------------------- until filters


@pytest.fixture
def dated_images(docker_client) -> Iterator[tuple[str, dict[str, datetime]]]:
    """Four labelled images with known creation dates, removed afterwards."""
    label = uuid.uuid4().hex
    repo = f"imgtui-fmt/until{label[:8]}"
    now = datetime.now(UTC)
    created = {
        "y2019": datetime(2019, 6, 1, 12, 0, 0, tzinfo=UTC),
        "y2021": datetime(2021, 6, 1, 12, 0, 0, tzinfo=UTC),
        "y2023": datetime(2023, 6, 1, 0, 0, 0, 250_000, tzinfo=UTC),
        "recent": now - timedelta(hours=1),
    }
    images = [
        {
            "tags": [f"{repo}:{tag}"],
            "created": when,
            "labels": {"imgtui.test": label},
            "history": [_step(when, "/bin/sh -c true", empty=False)],
            "layers": [10 + n],
        }
        for n, (tag, when) in enumerate(created.items())
    ]
    load(docker_client, images)
    yield label, created
    for tag in created:
        with contextlib.suppress(Exception):  # most were pruned already
            docker_client.api.remove_image(f"{repo}:{tag}", force=True)


@pytest.mark.parametrize(
    "until",
    [
        "2021-06-01T12:00:00Z",  # exactly y2021's date: it goes too (created is not after)
        "2021-06-01T12:00:01+01:00",
        "2021-06-01",  # a date in the engine's zone
        "2021-06-01T13:30",
        "2023-06-01T00:00:00.1Z",  # a fraction: y2023 is 0.25 s later and stays
        "1622548800",  # unix seconds of 2021-06-01T12:00:00Z
        "1622548799.5",
        "2h",  # every dated image, but not the one made an hour ago
        "30m",
        "0",  # the unix epoch, not a zero duration
    ],
)
def test_prune_until_agrees_with_parse_timestamp(docker_cli, docker_client, dated_images, until):
    label, created = dated_images
    cutoff = parse_timestamp(until, datetime.now().astimezone())
    docker_cli(
        "image",
        "prune",
        "-a",
        "-f",
        "--filter",
        f"until={until}",
        "--filter",
        f"label=imgtui.test={label}",
    )
    left = {
        tag.rpartition(":")[2]
        for image in docker_client.api.images(filters={"label": f"imgtui.test={label}"})
        for tag in image["RepoTags"]
    }
    assert left == {tag for tag, when in created.items() if when > cutoff}
