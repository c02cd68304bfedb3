"""Reconstruction on images the real engine built: every instruction comes back, and rebuilds.

The classic builder runs through the docker SDK; BuildKit through the engine API's
`/build?version=2` (the CLI here has no buildx plugin, and the API needs no network for the
built-in Dockerfile frontend). Each reconstructed Dockerfile is then built again on the same
base, and the rebuilt image must have the same config and the same history as the original.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import tarfile
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from imgtui.analysis.dockerfile import reconstruct
from imgtui.backends.base import HealthCheck, HistoryEntry, ImageConfig
from tests.conftest import BASE_REPO, busybox_rootfs_tar
from tests.unit.test_dockerfile_reconstruct import lines_of, parse_dockerfile

pytestmark = pytest.mark.engine

BASE = f"{BASE_REPO}:latest"
BUILD_ARGS = {"X": "7", "Y": "8", "MSG": "hello world"}
LONG_RUN = (
    'RUN echo $X $Y "$MSG" > /x && echo "second  &&  one" > /y; echo third > /z'
    " && mkdir -p /var/lib/thing && echo done"
)
DOCKERFILE = f"""\
FROM {BASE}
ARG X=1
ARG Y
ARG MSG
ENV A=1 B="two words"
ENV C 3
LABEL maintainer="me" version=1.0 "key with space"=v
MAINTAINER someone <someone@example.com>
WORKDIR /app
COPY hello.txt /app/
COPY dir /app/dir
ADD hello.txt /opt/
COPY --chown=65534:65534 hello.txt /owned.txt
{LONG_RUN}
RUN ["/bin/sh", "-c", "echo exec > /e"]
SHELL ["/bin/sh", "-ec"]
RUN echo shelled
EXPOSE 80 443/udp 8080/tcp
USER nobody
VOLUME /data /other
VOLUME ["/v1"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD echo ok || exit 1
ONBUILD RUN echo onbuild
ONBUILD COPY . /src
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo", "hi"]
"""
HASH = r"(?:file|dir):[0-9a-f]{64}"
# What comes back, in order, after the normalizations each builder's history imposes.
CLASSIC_EXPECTED = [
    f"FROM {BASE}",
    "ARG X=1",
    "ARG Y",
    "ARG MSG",
    'ENV A=1 B="two words"',
    "ENV C=3",  # the legacy `ENV C 3` is recorded as C=3
    'LABEL maintainer=me version=1.0 "key with space"=v',
    "MAINTAINER someone <someone@example.com>",
    "WORKDIR /app",
    f"COPY {HASH} /app/",  # sources are content hashes
    f"COPY {HASH} /app/dir",
    f"ADD {HASH} /opt/",
    f"COPY --chown=65534:65534 {HASH} /owned.txt",
    LONG_RUN,
    "RUN echo exec > /e",  # exec form running /bin/sh -c reads back as shell form
    'SHELL ["/bin/sh", "-ec"]',
    "RUN echo shelled",
    "EXPOSE 443/udp 80 8080/tcp",  # docker sorts the ports
    "USER nobody",
    "VOLUME /data /other",
    "VOLUME /v1",
    "STOPSIGNAL SIGTERM",
    "HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD echo ok || exit 1",
    "ONBUILD RUN echo onbuild",
    "ONBUILD COPY . /src",
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD ["echo", "hi"]',
]
BUILDKIT_EXPECTED = [
    "FROM scratch",  # BuildKit links no parent images: the base shows as what it was made of
    "ADD rootfs.tar /",
    "ENV PATH=/bin",
    "ARG X=1",
    "ARG Y",
    "ARG MSG",
    'ENV A=1 B="two words"',
    "ENV C=3",
    'LABEL maintainer=me version=1.0 "key with space"=v',
    "MAINTAINER someone <someone@example.com>",
    "WORKDIR /app",
    "COPY hello.txt /app/",
    "COPY dir /app/dir",
    "ADD hello.txt /opt/",
    "COPY hello.txt /owned.txt",  # BuildKit 20.10 does not record --chown
    LONG_RUN,
    "RUN echo exec > /e",
    'SHELL ["/bin/sh", "-ec"]',
    "RUN echo shelled",
    "EXPOSE 443/udp 80/tcp 8080/tcp",
    "USER nobody",
    "VOLUME /data /other",
    "VOLUME /v1",
    "STOPSIGNAL SIGTERM",
    "HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD echo ok || exit 1",
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD ["echo", "hi"]',
    "ONBUILD RUN echo onbuild",  # not in BuildKit's history: from the image config
    "ONBUILD COPY . /src",
]


# --------------------------------------------------------------------------- engine helpers


def history(docker_client: Any, ref: str) -> list[HistoryEntry]:
    """`docker history` as HistoryEntry objects, newest first."""
    return [
        HistoryEntry(
            id=h["Id"],
            created=datetime.fromtimestamp(h["Created"], timezone.utc),
            created_by=h["CreatedBy"],
            size=h["Size"],
            comment=h.get("Comment") or "",
            tags=tuple(h.get("Tags") or ()),
        )
        for h in docker_client.api.history(ref)
    ]


def image_config(docker_client: Any, ref: str) -> ImageConfig:
    """The `Config` of `docker image inspect` as an ImageConfig."""
    c = docker_client.api.inspect_image(ref)["Config"]
    hc = c.get("Healthcheck")

    def argv(key: str) -> tuple[str, ...] | None:
        return tuple(c[key]) if c.get(key) is not None else None

    return ImageConfig(
        user=c.get("User") or "",
        env=tuple(c.get("Env") or ()),
        entrypoint=argv("Entrypoint"),
        cmd=argv("Cmd"),
        working_dir=c.get("WorkingDir") or "",
        labels=c.get("Labels") or {},
        exposed_ports=tuple(c.get("ExposedPorts") or ()),
        volumes=tuple(c.get("Volumes") or ()),
        stop_signal=c.get("StopSignal") or "",
        shell=argv("Shell"),
        on_build=tuple(c.get("OnBuild") or ()),
        healthcheck=HealthCheck(
            tuple(hc.get("Test") or ()),
            hc.get("Interval", 0),
            hc.get("Timeout", 0),
            hc.get("StartPeriod", 0),
            hc.get("Retries", 0),
        )
        if hc
        else None,
    )


def _context_tar(context: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(context.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(context)), recursive=False)
    return buf.getvalue()


def build_classic(docker_client: Any, context: Path, tag: str, args: Mapping[str, str]) -> str:
    """The classic builder, no network."""
    image, _ = docker_client.images.build(
        path=str(context), tag=tag, buildargs=dict(args), network_mode="none", rm=True, forcerm=True
    )
    return str(image.id)


def build_buildkit(docker_client: Any, context: Path, tag: str, args: Mapping[str, str]) -> str:
    """BuildKit through the engine API (`version=2`), no network, no session."""
    api = docker_client.api
    params = {"version": "2", "t": tag, "networkmode": "none", "buildargs": json.dumps(dict(args))}
    response = api._post(
        api._url("/build"),
        params=params,
        data=_context_tar(context),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
    )
    image_id = None
    errors = []
    for raw in response.iter_lines():
        message = json.loads(raw)
        if "error" in message:
            errors.append(message["error"])
        if message.get("id") == "moby.image.id":
            image_id = message["aux"]["ID"]
    assert response.status_code == 200 and not errors and image_id, errors or response.text
    return str(image_id)


def make_context(path: Path, dockerfile: str, files: Mapping[str, bytes | None] = {}) -> Path:
    """A build context; a None value makes a directory."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    for name, data in files.items():
        target = path / name
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
            (target / "inside.txt").write_text("in a dir\n")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return path


ORIGINAL_FILES: dict[str, bytes | None] = {"hello.txt": b"hello\n", "dir/a": b"a\n"}


def rebuild_context(path: Path, reconstructed: str) -> Path:
    """The reconstructed Dockerfile with something behind every source it names."""
    files: dict[str, bytes | None] = dict(ORIGINAL_FILES)
    for source in set(re.findall(HASH, reconstructed)):
        files[source] = None if source.startswith("dir:") else b"recorded as a hash\n"
    if "rootfs.tar" in reconstructed:
        files["rootfs.tar"] = busybox_rootfs_tar()
    return make_context(path, reconstructed, files)


def build_args_of(reconstructed: str) -> dict[str, str]:
    """The `# Built with --build-arg …` header line, as a mapping."""
    m = re.search(r"^# Built with (.*)$", reconstructed, re.M)
    words = shlex.split(m.group(1)) if m else []
    return dict(w.split("=", 1) for w in words if w != "--build-arg")


def _norm(line: str) -> str:
    """One instruction with whitespace outside quotes collapsed (line continuations add some)."""
    return " ".join(shlex.split(line, posix=False))


def assert_comes_back(expected: Sequence[str], reconstructed: str) -> None:
    """Every expected instruction appears, in order (extra lines are allowed between)."""
    got = [_norm(line) for line in lines_of(reconstructed)]
    i = 0
    for want in expected:
        pattern = re.escape(_norm(want)).replace(re.escape(HASH), HASH)
        while i < len(got) and not re.fullmatch(pattern, got[i]):
            i += 1
        assert i < len(got), f"{want!r} missing from:\n{reconstructed}"
        i += 1


def created_by_above(docker_client: Any, ref: str, base_steps: int) -> list[str]:
    """The image's own history (oldest first), hashes and spacing normalized."""
    steps = [h["CreatedBy"] for h in docker_client.api.history(ref)][::-1][base_steps:]
    return [_norm(re.sub(HASH, "<hash>", s)) for s in steps]


# --------------------------------------------------------------------------- tests


@pytest.fixture
def repo() -> str:
    return f"imgtui-test/df{uuid.uuid4().hex[:10]}"


def test_classic_build_comes_back_and_rebuilds(docker_client, base_image, tmp_path, repo) -> None:
    original = build_classic(
        docker_client, make_context(tmp_path / "ctx", DOCKERFILE, ORIGINAL_FILES), repo, BUILD_ARGS
    )
    config = image_config(docker_client, original)
    text = reconstruct(history(docker_client, original), config)
    parse_dockerfile(text)
    assert_comes_back(CLASSIC_EXPECTED, text)
    assert build_args_of(text) == BUILD_ARGS
    assert 'RUN echo $X $Y "$MSG" > /x \\\n    && echo' in text  # long RUN continued

    rebuilt = build_classic(
        docker_client,
        rebuild_context(tmp_path / "again", text),
        f"{repo}:again",
        build_args_of(text),
    )
    assert image_config(docker_client, rebuilt) == config
    base_steps = len(docker_client.api.history(base_image))
    assert created_by_above(docker_client, rebuilt, base_steps) == created_by_above(
        docker_client, original, base_steps
    )


def test_buildkit_build_comes_back_and_rebuilds(docker_client, base_image, tmp_path, repo) -> None:
    original = build_buildkit(
        docker_client, make_context(tmp_path / "ctx", DOCKERFILE, ORIGINAL_FILES), repo, BUILD_ARGS
    )
    steps = history(docker_client, original)
    assert all(s.comment == "buildkit.dockerfile.v0" for s in steps[:-1])  # really BuildKit
    config = image_config(docker_client, original)
    text = reconstruct(steps, config)
    parse_dockerfile(text)
    assert_comes_back(BUILDKIT_EXPECTED, text)
    assert build_args_of(text) == BUILD_ARGS

    # FROM scratch + ADD rootfs.tar: the same busybox root filesystem makes the same base
    rebuilt = build_buildkit(
        docker_client,
        rebuild_context(tmp_path / "again", text),
        f"{repo}:again",
        build_args_of(text),
    )
    assert image_config(docker_client, rebuilt) == config
    # the original's steps after the import are the rebuild's after ADD rootfs + ENV PATH
    assert created_by_above(docker_client, rebuilt, 2) == created_by_above(
        docker_client, original, 1
    )


def test_docker_commit_comes_back_and_rebuilds(docker_client, base_image, tmp_path, repo) -> None:
    api = docker_client.api
    container = api.create_container(BASE, ["sh", "-c", "echo hi > /f"], network_disabled=True)
    try:
        api.start(container)
        assert api.wait(container, timeout=60)["StatusCode"] == 0
        committed = api.commit(
            container,
            repository=repo,
            tag="committed",
            message="added f",
            changes=["ENV Z=9", 'CMD ["cat", "/f"]'],
        )["Id"]
    finally:
        api.remove_container(container, force=True)
    config = image_config(docker_client, committed)
    text = reconstruct(history(docker_client, committed), config)
    parse_dockerfile(text)
    assert_comes_back(
        [
            f"FROM {BASE}",
            'RUN ["sh", "-c", "echo hi > /f"]',
            "ENV PATH=/bin Z=9",
            'CMD ["cat", "/f"]',
        ],
        text,
    )
    assert "# docker commit: added f" in text

    rebuilt = build_classic(
        docker_client, rebuild_context(tmp_path / "again", text), f"{repo}:again", {}
    )
    assert image_config(docker_client, rebuilt) == config
    sizes = [h["Size"] for h in api.history(rebuilt)]
    assert sizes[:3] == [0, 0, 3]  # CMD, ENV, then the RUN that wrote "hi\n" to /f


def test_docker_import_comes_back_and_rebuilds(docker_client, base_image, tmp_path, repo) -> None:
    config = image_config(docker_client, base_image)
    text = reconstruct(history(docker_client, base_image), config)
    parse_dockerfile(text)
    assert lines_of(text) == ["FROM scratch", "ADD rootfs.tar /", "ENV PATH=/bin", 'CMD ["sh"]']
    rebuilt = build_classic(docker_client, rebuild_context(tmp_path / "again", text), repo, {})
    assert image_config(docker_client, rebuilt) == config


def test_classic_build_on_an_untagged_base_reads_from_scratch(
    docker_client, base_image, tmp_path, repo
) -> None:
    # Once the base loses its tag, history no longer names it: everything comes back.
    build_classic(
        docker_client,
        make_context(tmp_path / "b", f"FROM {BASE}\nRUN echo base > /b\n"),
        f"{repo}:base",
        {},
    )
    child = build_classic(
        docker_client,
        make_context(tmp_path / "c", f'FROM {repo}:base\nLABEL child=yes\nCMD ["cat", "/b"]\n'),
        f"{repo}:child",
        {},
    )
    docker_client.api.remove_image(f"{repo}:base")
    text = reconstruct(history(docker_client, child), image_config(docker_client, child))
    assert lines_of(text) == [
        f"FROM {BASE}",  # the busybox base is still tagged
        "RUN echo base > /b",
        "LABEL child=yes",
        'CMD ["cat", "/b"]',
    ]
