"""run / ps / rm / commit on the built-in store, sandboxed; the results load and run on docker.

The seed's flow without a daemon: `run … sh -c 'echo hello > hello.txt'`, `commit`, and the new
image works in the real engine after `imgtui save` → `docker load`.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgtui.backends.base import ContainerNotFound, InvalidArgument
from imgtui.backends.builtin import BuiltinBackend
from imgtui.sandbox import RunSpec, unavailable_reason
from imgtui.sandbox.rootfs import RootFS, changes, write_layer
from imgtui.sandbox.run import run
from imgtui.store.gc import fsck
from imgtui.store.layout import Store
from tests.conftest import BASE_REPO, busybox_rootfs_tar

pytestmark = pytest.mark.engine

BASE = f"{BASE_REPO}:latest"


@pytest.fixture(scope="module")
def base_archive(docker_client, base_image: str, tmp_path_factory) -> Path:
    """The engine's busybox image as a `docker save` archive, made once."""
    path = tmp_path_factory.mktemp("base") / "busybox.tar"
    with path.open("wb") as out:
        for chunk in docker_client.api.get_image(BASE):
            out.write(chunk)
    return path


@pytest.fixture
def store_dir(tmp_path: Path, base_archive: Path) -> Iterator[Path]:
    folder = tmp_path / "store"
    backend = BuiltinBackend(folder)
    list(backend.load(base_archive))
    backend.close()
    yield folder


def cli(store: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return subprocess.run(
        [sys.executable, "-m", "imgtui", "--backend", "builtin", "--store", str(store), *args],
        env=env,
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
        check=False,
    )


def test_this_machine_can_sandbox() -> None:
    assert unavailable_reason() is None  # CI runs as root: namespaces must work there


def test_seed_flow_run_commit_and_docker_runs_the_result(
    store_dir: Path, docker_client, tmp_path: Path
) -> None:
    made = cli(store_dir, "run", "--name", "hello-box", BASE, "sh", "-c", "echo hello > hello.txt")
    assert made.returncode == 0, made.stderr
    ps = cli(store_dir, "ps", "-a")
    assert "hello-box" in ps.stdout and "Exited (0)" in ps.stdout, ps.stdout
    committed = cli(
        store_dir,
        "commit",
        "-m",
        "says hello",
        "-c",
        'CMD ["cat", "/hello.txt"]',
        "hello-box",
        "imgtui-test/hello:1",
    )
    assert committed.returncode == 0, committed.stderr
    image_id = committed.stdout.strip()
    assert image_id.startswith("sha256:")
    # the commit runs on the store too …
    again = cli(store_dir, "run", "--rm", "imgtui-test/hello:1")
    assert (again.returncode, again.stdout) == (0, "hello\n"), again.stderr
    history = cli(store_dir, "history", "--no-trunc", "imgtui-test/hello:1")
    assert "says hello" in history.stdout
    assert "sh -c echo hello > hello.txt" in history.stdout
    # … and in the real engine, same id
    archive = tmp_path / "hello.tar"
    saved = cli(store_dir, "save", "-o", str(archive), "imgtui-test/hello:1")
    assert saved.returncode == 0, saved.stderr
    try:
        docker_client.api.load_image(archive.read_bytes())
        assert docker_client.images.get("imgtui-test/hello:1").id == image_id
        out = docker_client.containers.run("imgtui-test/hello:1", network_mode="none", remove=True)
        assert out == b"hello\n"
    finally:
        docker_client.api.remove_image("imgtui-test/hello:1", force=True)
    assert fsck(Store.open(store_dir)).ok


def test_layer_has_whiteouts_and_keeps_owners_and_modes(store_dir: Path) -> None:
    backend = BuiltinBackend(store_dir)
    script = (
        "rm -f /bin/touch; mkdir -p /data/sub; echo 1 > /data/sub/f; "
        "busybox chown 12:34 /data/sub/f; busybox chmod 4750 /data/sub/f; "
        "busybox ln -s /data/sub/f /data/link; "
        "busybox ln /data/sub/f /data/hard"
    )
    _, code = backend.run_container(BASE, ["sh", "-c", script], name="changes")
    assert code == 0
    image_id = backend.commit("changes", "imgtui-test/changed:1")
    detail = backend.inspect(image_id)
    base = backend.inspect(BASE)
    assert len(detail.layers) == len(base.layers) + 1
    store = Store.open(store_dir)
    with store.open_blob(detail.layers[-1]) as f, tarfile.open(fileobj=f) as tar:
        members = {m.name.rstrip("/"): m for m in tar}
    assert "bin/.wh.touch" in members
    # one name carries the data, the other is a hard link to it (first in tar order wins)
    f, other = members["data/hard"], members["data/sub/f"]
    assert (f.mode, f.uid, f.gid, f.size) == (0o4750, 12, 34, 2)
    assert other.islnk() and other.linkname == "data/hard"
    assert members["data/link"].issym() and members["data/link"].linkname == "/data/sub/f"
    assert not any(name.startswith(("proc", "dev")) for name in members)
    backend.close()


def test_exit_code_env_user_workdir_and_no_network(store_dir: Path) -> None:
    backend = BuiltinBackend(store_dir)
    chunks: list[bytes] = []
    _, code = backend.run_container(
        BASE,
        [
            "sh",
            "-c",
            "echo $PATH; busybox id -u; busybox pwd; busybox grep -c : /proc/net/dev; exit 3",
        ],
        output=chunks.append,
    )
    text = b"".join(chunks).decode()
    assert code == 3
    lines = text.split()
    assert lines[0] == "/bin"  # the image's ENV PATH
    assert lines[1] == "0" and lines[2] == "/"
    assert lines[3] == "1"  # only lo: no network
    _, code = backend.run_container(BASE, ["no-such-command"], output=chunks.append)
    assert code == 127
    assert 'exec: "no-such-command": executable file not found' in b"".join(chunks).decode()
    backend.close()


def test_rm_and_prune_remove_containers(store_dir: Path) -> None:
    made = cli(store_dir, "run", "--name", "gone", BASE, "true")
    assert made.returncode == 0, made.stderr
    removed = cli(store_dir, "rm", "gone")
    assert (removed.returncode, removed.stdout) == (0, "gone\n")
    missing = cli(store_dir, "rm", "gone")
    assert missing.returncode == 1 and "No such container: gone" in missing.stderr
    cli(store_dir, "run", "--name", "left", BASE, "true")
    pruned = cli(store_dir, "system", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert "left" not in cli(store_dir, "ps", "-a").stdout
    assert not any((Path(store_dir) / ".imgtui" / "containers").glob("*/rootfs"))


def test_bad_commit_input_says_what_is_wrong(store_dir: Path) -> None:
    backend = BuiltinBackend(store_dir)
    backend.run_container(BASE, ["true"], name="c")
    before = backend.images()
    with pytest.raises(InvalidArgument, match="'RUN' is not a valid change command"):
        backend.commit("c", "x:1", changes=["RUN echo no"])
    with pytest.raises(ContainerNotFound, match="No such container: nope"):
        backend.commit("nope", "x:1")
    assert backend.images() == before  # nothing half-made
    result = cli(store_dir, "commit", "-c", "FROB x", "c", "x:1")
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result.stderr
    backend.close()


def test_unpack_stays_inside_the_root(tmp_path: Path) -> None:
    """Absolute symlinks resolve inside the root; a layer writing through one stays inside."""
    root = RootFS(tmp_path / "root")
    root.path.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    layer1, layer2 = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=layer1, mode="w") as t:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        t.addfile(link)
        up = tarfile.TarInfo("up")
        up.type, up.linkname = tarfile.SYMTYPE, "../../.."
        t.addfile(up)
    with tarfile.open(fileobj=layer2, mode="w") as t:
        for name in ("escape/planted", "up/planted2"):
            info = tarfile.TarInfo(name)
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
    root.apply(io.BytesIO(layer1.getvalue()))
    root.apply(io.BytesIO(layer2.getvalue()))
    assert list(outside.iterdir()) == []
    assert (root.path / str(outside).lstrip("/") / "planted").read_bytes() == b"x"
    assert (root.path / "planted2").read_bytes() == b"x"


def test_write_layer_whiteouts_and_opaque_input(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    root = RootFS(tmp_path / "root")
    root.path.mkdir()
    root.apply(io.BytesIO(busybox_rootfs_tar()))
    before = root.snapshot()
    (root.path / "bin" / "new").write_text("n")
    os.unlink(root.path / "bin" / "busybox")
    blob = write_layer(root, before, store)
    assert blob is not None and blob.digest.startswith("sha256:")
    changed, deleted = changes(before, root.snapshot())
    assert (changed, deleted) == (["/bin", "/bin/new"], ["/bin/busybox"])
    assert write_layer(root, root.snapshot(), store) is None  # nothing changed: no layer
    with store.open_blob(blob.digest) as f, tarfile.open(fileobj=f) as tar:
        names = sorted(m.name for m in tar)
    assert names == ["bin", "bin/.wh.busybox", "bin/new"]
    # applying it elsewhere gives the same tree
    other = RootFS(tmp_path / "other")
    other.path.mkdir()
    other.apply(io.BytesIO(busybox_rootfs_tar()))
    with store.open_blob(blob.digest) as f:
        other.apply(f)
    assert not (other.path / "bin" / "busybox").exists()
    assert (other.path / "bin" / "new").read_text() == "n"


def test_run_output_cancel_and_signal_exit(tmp_path: Path) -> None:
    import threading

    root = RootFS(tmp_path / "root")
    root.path.mkdir()
    root.apply(io.BytesIO(busybox_rootfs_tar()))
    cancel = threading.Event()
    seen: list[bytes] = []

    def output(chunk: bytes) -> None:
        seen.append(chunk)
        cancel.set()  # first line seen: stop it

    from imgtui.sandbox.run import RunCancelled

    with pytest.raises(RunCancelled):
        run(
            root, RunSpec(argv=("sh", "-c", "echo started; sleep 30")), output=output, cancel=cancel
        )
    assert b"started" in b"".join(seen)
    # pid 1 ignores signals it does not handle (as in docker); a child killed by one is 128+N
    child = RunSpec(argv=("sh", "-c", "sh -c 'kill -TERM $$'; exit $?"))
    code = run(root, child, output=seen.append)
    assert code == 128 + 15
    code = run(root, RunSpec(argv=("true",), user="ghost"), output=seen.append)  # unknown
    assert code == 125
    assert b"unable to find user ghost" in b"".join(seen)
