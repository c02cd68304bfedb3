"""info(), and what every operation does when the engine/store cannot be reached."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imgtui.backends.base import Backend, BackendInfo, BackendUnavailable, BuildOptions
from tests.contract.harness import Harness
from tests.contract.helpers import assert_user_message

pytestmark = pytest.mark.engine


def test_info(harness: Harness, backend: Backend) -> None:
    info = backend.info()
    assert isinstance(info, BackendInfo)
    assert info.name == harness.kind == backend.name
    assert info.location == harness.location
    assert info.version


OPERATIONS: dict[str, Callable[[Backend, Path], Any]] = {
    "images": lambda b, _: b.images(),
    "images-all": lambda b, _: b.images(all=True),
    "inspect": lambda b, _: b.inspect("imgtui-test/x:latest"),
    "history": lambda b, _: b.history("imgtui-test/x:latest"),
    "tag": lambda b, _: b.tag("imgtui-test/x:latest", "imgtui-test/y:latest"),
    "remove": lambda b, _: b.remove("imgtui-test/x:latest"),
    "prune-images": lambda b, _: b.prune_images(),
    "system-prune": lambda b, _: b.system_prune(),
    "prune-build-cache": lambda b, _: b.prune_build_cache(),
    "disk-usage": lambda b, _: b.disk_usage(),
    "build": lambda b, tmp: list(b.build(BuildOptions(context=_context(tmp)))),
    "pull": lambda b, _: list(b.pull("127.0.0.1:5000/imgtui-test/x:latest")),
    "push": lambda b, _: list(b.push("127.0.0.1:5000/imgtui-test/x:latest")),
    "save": lambda b, tmp: list(b.save(["imgtui-test/x:latest"], tmp / "out.tar")),
    "load": lambda b, tmp: list(b.load(_archive(tmp))),
    "containers": lambda b, _: b.containers(all=True),
    "commit": lambda b, _: b.commit("imgtui-test-container"),
    "events": lambda b, _: next(iter(b.events())),
}


def _context(tmp: Path) -> Path:
    ctx = tmp / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM imgtui-test/busybox:latest\n")
    return ctx


def _archive(tmp: Path) -> Path:
    import tarfile

    path = tmp / "in.tar"
    with tarfile.open(path, "w"):
        pass
    return path


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_unreachable_backend(harness: Harness, tmp_path: Path, operation: str) -> None:
    for name, target in harness.unreachable().items():
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as e:
            backend = target.make()
            try:
                OPERATIONS[operation](backend, tmp_path)
            finally:
                backend.close()
        assert_user_message(e.value, target.where)
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"{name}: took {elapsed:.1f}s to give up"
