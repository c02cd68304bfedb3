"""Differential tests of the daemonless builder against the engine's classic builder.

Every valid corpus case is built by imgtui into a fresh store and by the engine (DOCKER_BUILDKIT=0,
`engine_corpus`); the two images must agree on the Dockerfile-controlled config fields, the
author, the history (created_by texts and which steps have empty layers), the number of layers and
every entry of every layer (path, type, mode, uid/gid, size, link target, content digest).
Invalid cases must fail on both. Results must load into the real engine and run there.

Differences kept on purpose (the comparison masks these, nothing else):

- COPY/ADD source hash in the history (`COPY file:<h> in /dst `). Engine: a tarsum of the CLI's
  tar headers and content. imgtui: sha256 over path, mode, owner, size, link and content
  (dockerignore.entry_digest). The engine's hash depends on its tar writer's header bytes; ours
  is stable across machines and is what the cache keys on. Masked as `file:<hash>`.
- `.wh.` whiteout entries' link name. Engine: the kernel's shared whiteout inode leaks a
  hardlink name into the header. imgtui: none. Type, mode and path agree.
- RUN `ln a b` where `a` already had other names (RUN_LINKS_ALL_NAMES). Engine: `a` and `b`
  (overlay copies up only `a`). imgtui: every name of the file, and which name is the file and
  which the link may differ. A snapshot diff cannot tell which name was linked from; the tree
  the layers make is the same. Compared by content there.
- RUN `rm -rf d && mkdir d` (RUN_REMAKES_A_FOLDER). Engine: `d/.wh..wh..opq`. imgtui: a `.wh.`
  file for each entry `d` had, unless the new folder got a new inode number (then opaque too).
  The kernel often reuses the inode number, so a snapshot cannot always tell a new folder from
  an emptied one; both hide exactly the old entries.
- Not compared at all, as not part of Entry: mtimes, uname/gname, PAX records, compression
  (imgtui stores uncompressed OCI layers, digest = diff_id; `docker load` takes both).
"""

from __future__ import annotations

import shutil
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from imgtui import reference
from imgtui.backends.base import BuildError, BuildLog, BuildOptions, BuildStep
from imgtui.backends.builtin import BuiltinBackend
from imgtui.build.tree import decompressed
from tests.build.builtin_results import (
    OurBuild,
    build_case,
    config_view,
    engine_history,
    history_view,
    seed_store,
)
from tests.build.conftest import CASES
from tests.build.engine_results import EngineCorpus, Entry

BASE_REF = "imgtui-test/busybox:latest"

VALID = [c for c in CASES if not c.invalid]
# RUN made a new name for a file that had several: see the table above.
RUN_LINKS_ALL_NAMES = {"26-hardlinks"}
# RUN removed a folder and made it again (the new one may reuse the inode number).
RUN_REMAKES_A_FOLDER = {"28-whiteouts"}
INVALID = [c for c in CASES if c.invalid]


@pytest.fixture(scope="session")
def seed(docker_client, base_image: str, tmp_path_factory) -> Path:
    """A store with the corpus's base image, copied from the engine."""
    return seed_store(docker_client, BASE_REF, tmp_path_factory.mktemp("seed") / "store")


def _ours(case, seed: Path, tmp_path: Path) -> OurBuild:
    got = build_case(case, seed, tmp_path)
    assert got.ok, f"imgtui failed to build {case.name}: {got.error}\n{got.output}"
    return got


@pytest.mark.parametrize("case", VALID, ids=[c.name for c in VALID])
def test_same_image_as_the_engine(
    case, seed: Path, engine_corpus: EngineCorpus, docker_client, tmp_path: Path
) -> None:
    engine = engine_corpus.build(case)
    assert engine.ok, f"the engine failed to build {case.name}:\n{engine.output}"
    ours = _ours(case, seed, tmp_path)

    assert config_view(ours.config) == config_view(engine.config)
    assert ours.author == engine.author
    assert history_view(ours.history) == history_view(
        engine_history(docker_client, engine.image_id)
    )
    assert len(ours.layers) == len(engine.layers)
    for i, (mine, theirs) in enumerate(zip(ours.layers, engine.layers, strict=True)):
        theirs = tuple(_without_whiteout_link(e) for e in theirs)
        if mine != theirs and case.name in RUN_LINKS_ALL_NAMES:
            mine, theirs = _by_content(mine, theirs)
        if mine != theirs and case.name in RUN_REMAKES_A_FOLDER:
            mine, theirs = _without_opaque(mine, theirs)
        assert list(mine) == list(theirs), f"layer {i} differs"


def _without_opaque(mine: tuple[Entry, ...], theirs: tuple[Entry, ...]) -> tuple[list, list]:
    """A folder the engine marks opaque: ours must white out its old entries one by one."""
    folders = {e.path.rpartition("/")[0] for e in theirs if e.path.endswith("/.wh..wh..opq")}

    def inside(e: Entry) -> bool:
        head, _, base = e.path.rpartition("/")
        return head in folders and base.startswith(".wh.")

    assert all(any(inside(e) for e in mine if e.path.startswith(f + "/")) for f in folders)
    return [e for e in mine if not inside(e)], [e for e in theirs if not inside(e)]


def _by_content(mine: tuple[Entry, ...], theirs: tuple[Entry, ...]) -> tuple[list, list]:
    """Hardlink groups compared by content: which name is the file and which the link is the
    writer's choice, and ours may hold more names of a group the engine's layer has."""

    def view(entries: tuple[Entry, ...]) -> dict[str, Entry]:
        files = {e.path: e for e in entries if e.type == "file"}
        out = {}
        for e in entries:
            if e.type == "hardlink":
                target = files[e.link]
                e = replace(e, type="file", size=target.size, link="", sha256=target.sha256)
            out[e.path] = e
        return out

    ours, engine = view(mine), view(theirs)
    linked = {e.sha256 for e in engine.values() if e.sha256}
    extra = [p for p in ours if p not in engine and ours[p].sha256 in linked]
    for p in extra:
        del ours[p]
    for p in sorted(ours, key=len, reverse=True):  # folders only those extra names needed
        if (
            p not in engine
            and ours[p].type == "dir"
            and not any(q.startswith(p + "/") for q in ours)
        ):
            del ours[p]
    return sorted(ours.values(), key=lambda e: e.path), sorted(
        engine.values(), key=lambda e: e.path
    )


def _without_whiteout_link(entry: Entry) -> Entry:
    """The engine's `.wh.` files carry the link name of the kernel's shared whiteout inode."""
    if entry.path.rpartition("/")[2].startswith(".wh."):
        return replace(entry, link="")
    return entry


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
def test_invalid_case_fails_on_both(
    case, seed: Path, engine_corpus: EngineCorpus, tmp_path: Path
) -> None:
    engine = engine_corpus.build(case)
    assert not engine.ok, f"the engine built {case.name}"
    assert case.engine_error is None or case.engine_error in engine.output
    ours = build_case(case, seed, tmp_path)
    assert not ours.ok
    assert ours.error == case.error


def test_unchanged_rebuild_uses_the_cache(seed: Path, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "40-copy-dest-forms")
    first = _ours(case, seed, tmp_path / "a")
    assert first.backend is not None
    again = list(first.backend.build(BuildOptions(context=tmp_path / "a" / "ctx", tags=("x:y",))))
    logs = "".join(e.text for e in again if isinstance(e, BuildLog))
    steps = [e for e in again if isinstance(e, BuildStep)]
    assert logs.count(" ---> Using cache") == len(steps) - 1  # every step but FROM
    assert again[-1].image_id == first.image_id
    fresh = list(
        first.backend.build(
            BuildOptions(context=tmp_path / "a" / "ctx", tags=("x:z",), no_cache=True)
        )
    )
    assert "Using cache" not in "".join(e.text for e in fresh if isinstance(e, BuildLog))
    assert fresh[-1].image_id != first.image_id

    (tmp_path / "a" / "ctx" / "b.txt").write_text("changed\n")
    changed = list(first.backend.build(BuildOptions(context=tmp_path / "a" / "ctx")))
    text = "".join(e.text for e in changed if isinstance(e, BuildLog))
    # WORKDIR and the two COPYs of a.txt hit; the COPY of a.txt b.txt and the ones after miss
    assert text.count(" ---> Using cache") == 3


def test_prune_build_cache_frees_it(seed: Path, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "13-add-file")
    built = _ours(case, seed, tmp_path)
    backend = built.backend
    assert backend is not None
    before = backend.disk_usage().build_cache_size
    assert before > 0
    report = backend.prune_build_cache()
    assert report.space_reclaimed > 0
    assert backend.disk_usage().build_cache_size == 0
    again = list(backend.build(BuildOptions(context=tmp_path / "ctx", tags=("corpus:case",))))
    assert "Using cache" not in "".join(e.text for e in again if isinstance(e, BuildLog))


def test_cancel_leaves_no_image(seed: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(seed, store, symlinks=True)
    ctx = tmp_path / "ctx"
    (ctx / "many").mkdir(parents=True)
    for i in range(200):
        (ctx / "many" / f"f{i}").write_text(str(i))
    (ctx / "Dockerfile").write_text(f"FROM {BASE_REF}\nCOPY many /many\nLABEL a=b\n")
    backend = BuiltinBackend(store)
    cancel = threading.Event()
    events = backend.build(BuildOptions(context=ctx, tags=("cancel:me",)), cancel=cancel)
    with pytest.raises(BuildError, match="cancelled"):
        for event in events:
            if isinstance(event, BuildStep) and event.instruction.startswith("COPY"):
                cancel.set()
    assert "docker.io/library/cancel:me" not in backend.store.read_index().named()
    assert not list((store / ".imgtui" / "build").glob("*/*")), "the work trees are removed"


def test_result_loads_and_runs_in_the_engine(
    seed: Path, docker_client, tmp_path: Path, unique_repo: str
) -> None:
    cases = {c.name: c for c in CASES}
    checks = {
        "13-add-file": (["cat", "/opt/hello.txt", "/multi/one.txt"], "hello.txt"),
        "12-add-tar": (["cat", "/gz/top.txt", "/nested/dir/sub/inner.txt"], "tree/"),
        "40-copy-dest-forms": (["cat", "/app/a.txt", "/app/relative/a.txt"], None),
    }
    for name, (cmd, _) in checks.items():
        tag = f"{unique_repo}:{name}"
        built = build_case(cases[name], seed, tmp_path / name, tag=tag)
        assert built.ok, built.error
        assert built.backend is not None
        archive = tmp_path / f"{name}.tar"
        list(built.backend.save([tag], archive))
        with archive.open("rb") as f:
            docker_client.images.load(f.read())
        try:
            out = docker_client.containers.run(tag, cmd, network_mode="none", remove=True)
        finally:
            docker_client.images.remove(tag, force=True)
        if name == "40-copy-dest-forms":
            assert out.decode() == 2 * (tmp_path / name / "ctx" / "a.txt").read_text()
        elif name == "13-add-file":
            ctx = tmp_path / name / "ctx"
            assert (
                out.decode() == (ctx / "hello.txt").read_text() + (ctx / "dir/one.txt").read_text()
            )
        else:
            tree = tmp_path / name / "ctx" / "tree"
            assert (
                out.decode()
                == (tree / "top.txt").read_text() + (tree / "sub/inner.txt").read_text()
            )


def _backend(seed: Path, tmp_path: Path) -> BuiltinBackend:
    store = tmp_path / "store"
    shutil.copytree(seed, store, symlinks=True)
    return BuiltinBackend(store)


def _build(backend: BuiltinBackend, ctx: Path, dockerfile: str, **options) -> list:
    (ctx / "Dockerfile").write_text(dockerfile)
    return list(backend.build(BuildOptions(context=ctx, **options)))


def _layer(backend: BuiltinBackend, tag: str, index: int) -> dict[str, tuple[int, bytes | None]]:
    """One layer of the image: path -> (mode, content of regular files)."""
    store = backend.store
    manifest = store.read_manifest(store.read_index().get(reference.normalize(tag)).digest)
    out: dict[str, tuple[int, bytes | None]] = {}
    with (
        store.open_blob(manifest.layers[index].digest) as raw,
        tarfile.open(fileobj=decompressed(raw), mode="r|") as tar,
    ):
        for m in tar:
            f = tar.extractfile(m) if m.isreg() else None
            out[m.name] = (m.mode & 0o7777, f.read() if f else None)
    return out


def test_add_unpacks_bzip2_and_xz_and_copy_chmod(seed: Path, tmp_path: Path) -> None:
    backend = _backend(seed, tmp_path)
    ctx = tmp_path / "ctx"
    (ctx / "tree").mkdir(parents=True)
    (ctx / "tree" / "inside.txt").write_text("inside\n")
    for mode in ("bz2", "xz"):
        with tarfile.open(ctx / f"a.tar.{mode}", f"w:{mode}") as tar:
            tar.add(ctx / "tree" / "inside.txt", arcname=f"{mode}/inside.txt")
    dockerfile = (
        f"FROM {BASE_REF}\nADD a.tar.bz2 a.tar.xz /unpacked/\n"
        "COPY --chmod=0600 tree/inside.txt /secret.txt\n"
    )
    _build(backend, ctx, dockerfile, tags=("add:x",))
    assert len(backend.inspect("add:x").layers) == 3  # base, ADD, COPY
    added = _layer(backend, "add:x", 1)
    names = ["unpacked", "unpacked/bz2", "unpacked/bz2/inside.txt", "unpacked/xz"]
    assert sorted(added) == [*names, "unpacked/xz/inside.txt"]
    assert added["unpacked/xz/inside.txt"][1] == b"inside\n"
    assert _layer(backend, "add:x", 2) == {"secret.txt": (0o600, b"inside\n")}


def test_add_url_and_bad_sources_are_one_clear_line(seed: Path, tmp_path: Path) -> None:
    backend = _backend(seed, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    cases = {
        "ADD http://127.0.0.1:9/file.txt /f\n": "Dockerfile:2: ADD http://127.0.0.1:9/file.txt: "
        "downloading is not supported",
        "COPY http://127.0.0.1:9/f /f\n": "Dockerfile:2: source can't be a URL for COPY",
        "COPY nothing-* /x/\n": "Dockerfile:2: COPY failed: no source files were specified",
        "RUN --mount=type=cache,target=/c true\n": "Dockerfile:2: RUN --mount is not supported",
        "RUN --network=host true\n": "Dockerfile:2: RUN --network=host needs the build's",
        "COPY --chown=nosuchuser a /a\n": "Dockerfile:2: COPY failed: file not found",
    }
    for line, message in cases.items():
        with pytest.raises(BuildError) as e:
            _build(backend, ctx, f"FROM {BASE_REF}\n{line}", tags=("bad:x",))
        assert str(e.value).startswith(message), str(e.value)
        assert "\n" not in str(e.value)
    (ctx / "a").write_text("a")
    with pytest.raises(BuildError, match="can't find uid for user nosuchuser"):
        _build(backend, ctx, f"FROM {BASE_REF}\nCOPY --chown=nosuchuser a /a\n")
    assert "docker.io/library/bad:x" not in backend.store.read_index().named()


def test_copy_from_an_image_and_the_original_dockerfile(seed: Path, tmp_path: Path) -> None:
    backend = _backend(seed, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    dockerfile = f"FROM scratch\nCOPY --from={BASE_REF} /etc/passwd /passwd\n"
    _build(backend, ctx, dockerfile, tags=("from:x",))
    assert _layer(backend, "from:x", 0)["passwd"][1].startswith(b"root:")
    assert backend.original_dockerfile("from:x") == dockerfile


def test_cancel_stops_a_running_command(seed: Path, tmp_path: Path) -> None:
    import time

    backend = _backend(seed, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_REF}\nRUN echo started && sleep 60\n")
    cancel = threading.Event()
    start = time.monotonic()
    with pytest.raises(BuildError, match="cancelled"):
        for event in backend.build(BuildOptions(context=ctx, tags=("slow:x",)), cancel=cancel):
            if isinstance(event, BuildLog) and "started" in event.text:
                cancel.set()
    assert time.monotonic() - start < 20
    assert "docker.io/library/slow:x" not in backend.store.read_index().named()


def test_cli_prints_the_classic_builder_and_exits_1_on_failure(seed: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    store = tmp_path / "store"
    shutil.copytree(seed, store, symlinks=True)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_REF}\nARG N=3\nRUN echo n=$N\n")
    imgtui = [sys.executable, "-m", "imgtui", "--backend", "builtin", "--store", str(store)]
    done = subprocess.run(
        [*imgtui, "build", "-t", "cli:x", "--build-arg", "N=4", str(ctx)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Step 1/3 : FROM {BASE_REF}"
    assert "Step 3/3 : RUN echo n=$N" in lines
    assert "n=4" in lines
    assert lines[-2].startswith("Successfully built ")
    assert lines[-1] == "Successfully tagged cli:x"
    history = subprocess.run(
        [*imgtui, "history", "--no-trunc", "cli:x"], capture_output=True, text=True
    )
    assert "|1 N=4 /bin/sh -c echo n=$N" in history.stdout

    (ctx / "Dockerfile").write_text(f"FROM {BASE_REF}\nRUN echo oops && exit 3\n")
    failed = subprocess.run(
        [*imgtui, "build", "-t", "cli:y", str(ctx)], capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert "oops" in failed.stdout
    assert failed.stderr.strip().endswith(
        "The command '/bin/sh -c echo oops && exit 3' returned a non-zero code: 3: oops"
    )

    pruned = subprocess.run([*imgtui, "builder", "prune", "-f"], capture_output=True, text=True)
    assert pruned.returncode == 0
    assert "Deleted build cache objects:" in pruned.stdout
    assert "Total reclaimed space:" in pruned.stdout


def test_from_an_image_missing_locally_is_pulled(
    seed: Path, tmp_path: Path, registry: str, unique_repo: str
) -> None:
    """FROM of an image the store lacks goes through imgtui.registry's pull first."""
    ref = f"{registry}/{unique_repo}:base"
    source = _backend(seed, tmp_path / "source")
    source.tag(BASE_REF, ref)
    list(source.push(ref))
    empty = BuiltinBackend(tmp_path / "empty")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    events = _build(empty, ctx, f"FROM {ref}\nLABEL pulled=yes\n", tags=("pulled:x",))
    text = "".join(e.text for e in events if isinstance(e, BuildLog))
    assert "Pulling from" in text
    assert empty.inspect("pulled:x").config.labels == {"pulled": "yes"}
    assert empty.inspect(ref).id == source.inspect(ref).id
