"""Build corpus cases on the real engine with the classic builder, once per session, and read back
what a daemonless builder must reproduce: the config, the history and every layer's entries.

The docker CLI runs with DOCKER_BUILDKIT=0 (so the CLI applies .dockerignore exactly as users
see it) and `--network none`. Layers come from `docker save`, streamed: each entry is recorded as
(path, type, mode, uid, gid, size, link target, sha256 of the content). Later builder tests call
`EngineCorpus.build(case)` and compare their own image against the returned EngineBuild.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.build.corpus import Case, materialize

_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a layer tar (whiteouts appear as the `.wh.` files docker save writes)."""

    path: str  # no leading "./" or "/", no trailing "/"
    type: str  # file dir symlink hardlink char block fifo
    mode: int  # permission and setuid/setgid/sticky bits
    uid: int
    gid: int
    size: int
    link: str  # symlink or hardlink target, "" otherwise
    sha256: str | None  # content digest of regular files


@dataclass(frozen=True)
class EngineBuild:
    """The engine's result for one case; `ok` False means the build failed (see `output`)."""

    case: str
    ok: bool
    output: str
    image_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    author: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[tuple[Entry, ...]] = field(default_factory=list)  # bottom-up, base included

    def files(self, layer: int = -1) -> dict[str, Entry]:
        """Entries of one layer by path."""
        return {e.path: e for e in self.layers[layer]}


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the SDK's streamed `docker save`)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _layer_entries(stream: Any) -> tuple[Entry, ...]:
    out = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            digest = None
            if m.isreg():
                h = hashlib.sha256()
                f = tar.extractfile(m)
                assert f is not None
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    h.update(chunk)
                digest = h.hexdigest()
            path = m.name.removeprefix("./").strip("/")
            out.append(
                Entry(
                    path,
                    _TYPES.get(m.type, m.type.decode()),
                    m.mode,
                    m.uid,
                    m.gid,
                    m.size if m.isreg() else 0,
                    m.linkname,
                    digest,
                )
            )
    return tuple(sorted(out, key=lambda e: e.path))


def saved_layers(client: Any, image_id: str) -> list[tuple[Entry, ...]]:
    """Every layer of `image_id`, bottom-up, read from a streamed `docker save`."""
    by_name: dict[str, tuple[Entry, ...]] = {}
    manifest = None
    raw = io.BufferedReader(_ChunkReader(client.api.get_image(image_id, chunk_size=1 << 20)))
    with tarfile.open(fileobj=raw, mode="r|") as outer:
        for m in outer:
            if m.name.endswith("layer.tar") and m.isreg():
                by_name[m.name] = _layer_entries(outer.extractfile(m))
            elif m.name == "manifest.json":
                manifest = json.load(outer.extractfile(m))
    assert manifest is not None, "docker save wrote no manifest.json"
    return [by_name[name] for name in manifest[0]["Layers"]]


def _context_tar(context: Path) -> bytes:
    buf = io.BytesIO()
    # GNU format: the engine sniffs the upload, and a leading PAX header reads as a Dockerfile.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(context.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(context)), recursive=False)
    return buf.getvalue()


NOT_SENT = "not sent to BuildKit: a syntax directive makes it fetch a frontend from the internet"


class EngineCorpus:
    """Builds each case at most once per builder (thread-safe) and keeps the results.

    `buildkit=False` is the classic builder through the docker CLI (DOCKER_BUILDKIT=0), the
    reference for the daemonless builder; `buildkit=True` the engine's BuildKit through the API
    (`/build?version=2`, no session; the context is uploaded whole, without .dockerignore).
    """

    def __init__(self, client: Any, docker_bin: str, docker_host: str, workdir: Path) -> None:
        self.client = client
        self.docker_bin = docker_bin
        self.docker_host = docker_host
        self.workdir = workdir
        self._results: dict[tuple[str, bool], EngineBuild] = {}
        self._locks: dict[tuple[str, bool], threading.Lock] = {}
        self._guard = threading.Lock()
        self.prefix = f"imgtui-test/corpus-{uuid.uuid4().hex[:8]}"

    def context(self, case: Case) -> Path:
        """The materialized context of `case` (made once)."""
        dest = self.workdir / case.name
        with self._guard:
            if not dest.exists():
                materialize(case, dest)
        return dest

    def build(self, case: Case, *, buildkit: bool = False) -> EngineBuild:
        key = (case.name, buildkit)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._results:
                self._results[key] = self._build(case, buildkit)
            return self._results[key]

    def build_all(
        self, cases: Iterable[Case], workers: int = 6, *, builders: Iterable[bool] = (False,)
    ) -> None:
        """Build every case with each builder (False: classic, True: BuildKit) in parallel."""
        jobs = [(case, bk) for bk in builders for case in cases]
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(lambda job: self.build(job[0], buildkit=job[1]), jobs):
                pass

    def _build(self, case: Case, buildkit: bool) -> EngineBuild:
        ctx = self.context(case)
        tag = f"{self.prefix}{'-bk' if buildkit else ''}:{case.name.lower()}"
        run = self._buildkit if buildkit else self._classic
        image_id, output = run(case, ctx, tag)
        if image_id is None:
            return EngineBuild(case.name, False, output)
        info = self.client.api.inspect_image(image_id)
        return EngineBuild(
            case.name,
            True,
            output,
            image_id=image_id,
            config=dict(info.get("Config") or {}),
            author=info.get("Author") or "",
            history=list(self.client.api.history(image_id)),
            layers=saved_layers(self.client, image_id),
        )

    def _classic(self, case: Case, ctx: Path, tag: str) -> tuple[str | None, str]:
        with tempfile.TemporaryDirectory() as tmp:
            iid = Path(tmp) / "iid"
            cmd = [self.docker_bin, "build", "--network", "none", "--force-rm", "-t", tag]
            cmd += ["--iidfile", str(iid)]
            for key, value in case.build_args.items():
                cmd += ["--build-arg", f"{key}={value}"]
            if case.target:
                cmd += ["--target", case.target]
            env = {**os.environ, "DOCKER_HOST": self.docker_host, "DOCKER_BUILDKIT": "0"}
            env.pop("DOCKER_CONTEXT", None)
            proc = subprocess.run(
                [*cmd, str(ctx)], env=env, capture_output=True, text=True, timeout=300
            )
            output = proc.stdout + proc.stderr
            if proc.returncode != 0:
                return None, output
            return iid.read_text().strip(), output

    def _buildkit(self, case: Case, ctx: Path, tag: str) -> tuple[str | None, str]:
        text = (ctx / "Dockerfile").read_text(errors="replace")
        if re.search(r"(?im)\A(?:#[^\n]*\n)*#\s*syntax\s*=", text):
            # BuildKit would fetch that frontend image from a registry on the internet: the
            # tests send nothing off this machine, so it is never asked.
            return None, NOT_SENT
        api = self.client.api
        params = {
            "version": "2",
            "t": tag,
            "networkmode": "none",
            "buildargs": json.dumps(case.build_args),
        }
        if case.target:
            params["target"] = case.target
        response = api._post(
            api._url("/build"),
            params=params,
            data=_context_tar(ctx),
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=300,
        )
        if response.status_code != 200:
            return None, response.text
        image_id, errors = None, []
        for raw in response.iter_lines():
            message = json.loads(raw)
            if message.get("error"):
                errors.append(message["error"])
            if message.get("id") == "moby.image.id":
                image_id = message["aux"]["ID"]
        if errors or image_id is None:
            return None, "\n".join(errors) or "BuildKit reported no image"
        return image_id, ""
