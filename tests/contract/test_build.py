"""build(): steps, logs and result; tags, build args, target, labels, no_cache, network none;
failing RUN steps and bad Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtui.backends.base import (
    Backend,
    BackendError,
    BuildError,
    BuildLog,
    BuildOptions,
    BuildStep,
    ImageNotFound,
    InvalidArgument,
)
from tests.contract.archives import read_file
from tests.contract.harness import BASE_REF, Harness
from tests.contract.helpers import assert_user_message, build, of_type

pytestmark = [pytest.mark.engine, pytest.mark.needs("build")]


# Builds run on the isolated engine/store: a failed build keeps the images of its finished steps
# and a multi-stage build keeps its other stages' images (docker keeps both as cache), which no
# test can name for cleanup. The isolated engine is wiped before each use instead.
@pytest.fixture
def harness(isolated: Harness) -> Harness:
    return isolated


@pytest.fixture
def backend(isolated: Harness) -> Backend:
    return isolated.backend


MULTI_STAGE = f"""\
FROM {BASE_REF} AS builder
ARG GREETING=default
RUN echo "$GREETING from builder" > /greeting.txt
FROM {BASE_REF} AS final
COPY --from=builder /greeting.txt /greeting.txt
COPY data.txt /data.txt
LABEL stage=final
CMD ["cat", "/greeting.txt"]
"""


def file_in(backend: Backend, ref: str, path: str, tmp: Path) -> bytes | None:
    """Read a file out of an image through the backend's own save()."""
    archive = tmp / "read.tar"
    list(backend.save([ref], archive))
    try:
        return read_file(archive, path)
    finally:
        archive.unlink()


def test_build_multi_stage(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    tags = [harness.ref("v1"), harness.ref("v2")]
    events, result = build(
        backend,
        tmp_path / "ctx",
        MULTI_STAGE,
        tags=tags,
        files={"data.txt": "payload\n"},
        build_args={"GREETING": "hello"},
        labels={"org.imgtui.build": "yes"},
    )
    harness.track_image(result.image_id)
    assert result.image_id.startswith("sha256:")
    assert set(result.tags) == set(tags)
    for t in tags:
        assert backend.inspect(t).id == result.image_id

    steps = of_type(events, BuildStep)
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    assert {s.total for s in steps} == {len(steps)}
    assert len(steps) >= 8
    assert steps[0].instruction.upper().startswith("FROM")
    assert any("COPY data.txt /data.txt" in s.instruction for s in steps)
    assert of_type(events, BuildLog), "the builder's output is streamed"

    detail = backend.inspect(result.image_id)
    assert detail.config.cmd == ("cat", "/greeting.txt")
    assert detail.config.labels.get("stage") == "final"
    assert detail.config.labels.get("org.imgtui.build") == "yes"
    assert file_in(backend, result.image_id, "/greeting.txt", tmp_path) == b"hello from builder\n"
    assert file_in(backend, result.image_id, "/data.txt", tmp_path) == b"payload\n"


def test_build_target_stage(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    _, result = build(
        backend,
        tmp_path / "ctx",
        MULTI_STAGE,
        tags=[harness.ref("builder")],
        files={"data.txt": "payload\n"},
        target="builder",
    )
    harness.track_image(result.image_id)
    detail = backend.inspect(harness.ref("builder"))
    assert detail.id == result.image_id
    assert "stage" not in detail.config.labels
    assert detail.config.cmd == ("sh",)
    assert file_in(backend, result.image_id, "/greeting.txt", tmp_path) == b"default from builder\n"
    assert file_in(backend, result.image_id, "/data.txt", tmp_path) is None


def test_build_custom_dockerfile_path(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "sub" / "Custom.Dockerfile").write_text(f"FROM {BASE_REF}\nLABEL custom=yes\n")
    (ctx / "Dockerfile").write_text(f"FROM {BASE_REF}\nLABEL custom=no\n")
    events = list(
        backend.build(
            BuildOptions(
                context=ctx,
                dockerfile="sub/Custom.Dockerfile",
                tags=(harness.ref("custom"),),
                network_mode="none",
            )
        )
    )
    assert events
    assert backend.inspect(harness.ref("custom")).config.labels.get("custom") == "yes"


def test_build_cache_and_no_cache(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    dockerfile = f"FROM {BASE_REF}\nRUN echo cached > /cached.txt\n"
    _, first = build(backend, tmp_path / "ctx", dockerfile, tags=[harness.ref("c1")])
    _, second = build(backend, tmp_path / "ctx", dockerfile, tags=[harness.ref("c2")])
    assert second.image_id == first.image_id, "an unchanged rebuild reuses the cache"
    _, fresh = build(backend, tmp_path / "ctx", dockerfile, tags=[harness.ref("c3")], no_cache=True)
    harness.track_image(fresh.image_id)
    assert fresh.image_id != first.image_id, "no_cache runs every step again"


def test_build_runs_without_network(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    _, result = build(
        backend,
        tmp_path / "ctx",
        f"FROM {BASE_REF}\nRUN ls /sys/class/net > /net.txt\n",
        tags=[harness.ref("net")],
    )
    content = file_in(backend, result.image_id, "/net.txt", tmp_path)
    assert content is not None and content.split() == [b"lo"]


def test_failing_run_step(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    harness.ensure_base()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {BASE_REF}\nRUN echo before\nRUN echo failing-step-$((40+2)) && exit 3\n"
    )
    events: list[object] = []
    with pytest.raises(BuildError) as e:
        for event in backend.build(
            BuildOptions(context=ctx, tags=(harness.ref("broken"),), network_mode="none")
        ):
            events.append(event)
    # The daemon's reason names the command and its exit code.
    assert_user_message(e.value, "failing-step-$((40+2))", "3")
    logs = "".join(ev.text for ev in of_type(events, BuildLog))
    assert "failing-step-42" in logs, "the command's output is streamed before the error"
    assert any("before" in s.instruction for s in of_type(events, BuildStep))
    assert not harness.exists(harness.ref("broken"))


def test_failing_run_error_carries_the_command_message(
    harness: Harness, backend: Backend, tmp_path: Path
) -> None:
    """A user who only sees the error (CLI without the log, a TUI toast) learns why it failed."""
    harness.ensure_base()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f'FROM {BASE_REF}\nRUN echo "cannot find widget-$((40+2))" >&2 && exit 7\n'
    )
    with pytest.raises(BuildError) as e:
        list(backend.build(BuildOptions(context=ctx, network_mode="none")))
    assert_user_message(e.value, "cannot find widget-42", "7")


@pytest.mark.parametrize(
    ("dockerfile", "fragment"),
    [
        (f"FROMM {BASE_REF}\n", "FROMM"),
        ("", ""),
        (f"FROM {BASE_REF}\nCOPY missing-file.txt /x\n", "missing-file.txt"),
    ],
    ids=["unknown-instruction", "empty", "copy-missing-file"],
)
def test_bad_dockerfile(
    harness: Harness, backend: Backend, tmp_path: Path, dockerfile: str, fragment: str
) -> None:
    harness.ensure_base()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    with pytest.raises((BuildError, InvalidArgument)) as e:
        list(
            backend.build(
                BuildOptions(context=ctx, tags=(harness.ref("bad"),), network_mode="none")
            )
        )
    assert_user_message(e.value, fragment)
    assert not harness.exists(harness.ref("bad"))


def test_missing_context(harness: Harness, backend: Backend, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises((InvalidArgument, BuildError)) as e:
        list(backend.build(BuildOptions(context=missing, tags=(harness.ref("x"),))))
    assert_user_message(e.value, "no-such-dir")


def test_unknown_base_image(
    harness: Harness, backend: Backend, tmp_path: Path, registry: str
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    missing = f"{registry}/imgtui-test/no-such-base:missing"
    (ctx / "Dockerfile").write_text(f"FROM {missing}\n")
    with pytest.raises((BuildError, ImageNotFound)) as e:
        list(
            backend.build(BuildOptions(context=ctx, tags=(harness.ref("x"),), network_mode="none"))
        )
    assert_user_message(e.value, "no-such-base")
    assert isinstance(e.value, BackendError)
