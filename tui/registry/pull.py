"""Pull an image from a registry into the built-in store, all or nothing.

Blobs stream to `STORE/.imgtui/tmp/pull-<hex>.partial` (through `BlobFile`: direct I/O for large
blobs, see there why), are hashed as they arrive, fsynced once, checked, then renamed into
`blobs/`; the whole run holds `store.ingesting()` so a concurrent prune leaves the not-yet-named
blobs alone, and the image is named (archive._commit, the one naming path of the store) only
after every blob checked out. A killed pull therefore leaves verified blobs and at most partial
files in tmp, which a re-run resumes with `Range` and fsck calls litter.

The store keeps the manifest exactly as the registry served it, so digests stay the registry's;
`repo@digest` names (containerd's convention) record the repo digests `docker images --digests`
shows.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import http.client
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from imgtui import reference
from imgtui.backends.base import (
    ImageNotFound,
    InvalidArgument,
    LayerProgress,
    ProgressEvent,
    RegistryError,
    StatusLine,
)
from imgtui.fsutil import fsync_dir
from imgtui.rate import Rate
from imgtui.registry.client import RegistryClient, _reason, pull_scope
from imgtui.registry.relay import Job, relay
from imgtui.store import archive, oci
from imgtui.store.blobfile import CHUNK, BlobFile
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor

# Parallel layer downloads (docker uses 3, containers/image 6): one stream here reaches about
# half of what the registry serves, and with layers > workers the last layer runs alone.
WORKERS = 6
PROGRESS_EVERY = 0.1  # seconds between Downloading events of one layer


class _Cancelled(Exception):
    """Another layer failed or the consumer went away: stop this download quietly."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a reference points at: the manifest to store and the digest the registry names."""

    repo_digest: str  # the digest the tag resolves to (an index's, for multi-platform images)
    manifest_digest: str
    media_type: str
    data: bytes
    manifest: oci.Manifest


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def parse_platform(text: str | None) -> tuple[str, str, str | None]:
    if not text:
        return archive.host_platform()
    try:
        return archive._parse_platform(text)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def choose(entries: list[Descriptor], want: tuple[str, str, str | None], where: str) -> Descriptor:
    """The index entry for a platform, as docker picks: os and arch must match, variant if any."""
    os_, arch, variant = want
    fits = [
        d
        for d in entries
        if d.platform
        and d.platform.get("os") == os_
        and d.platform.get("architecture") == arch
        and d.media_type in (*oci.MANIFEST_TYPES, "")
    ]
    if variant:
        exact = [d for d in fits if d.platform and d.platform.get("variant") == variant]
        fits = exact or [d for d in fits if d.platform and not d.platform.get("variant")]
    if not fits:
        shown = "/".join(p for p in want if p)
        raise ImageNotFound(f"no matching manifest for {shown} in the manifest list entries")
    return fits[0]


def resolve(
    client: RegistryClient, repo: str, ident: str, want: tuple[str, str, str | None]
) -> Resolved:
    """The image manifest a tag or digest stands for, through an index if it is one."""
    data, media_type, digest = client.get_manifest(repo, ident)
    top = digest
    where = f"{client.domain}/{repo}@{digest}"
    try:
        if media_type in oci.INDEX_TYPES:
            entries = oci.parse_index(data, f"index {where}")
            chosen = choose(entries, want, where)
            data, media_type, digest = client.get_manifest(repo, chosen.digest)
            where = f"{client.domain}/{repo}@{digest}"
        if media_type not in oci.MANIFEST_TYPES:
            raise RegistryError(f"{where}: unsupported manifest type {media_type!r}")
        manifest = oci.parse_manifest(data, f"manifest {where}")
    except oci.FormatError as e:  # the registry's answer, not the user's input, is wrong
        raise RegistryError(str(e)) from None
    return Resolved(top, digest, media_type, data, manifest)


def pull(
    store: Store,
    text: str,
    *,
    platform: str | None = None,
    client: RegistryClient | None = None,
    workers: int = WORKERS,
) -> Iterator[ProgressEvent]:
    """Docker's pull, event by event; the image is named only once every blob is verified."""
    ref = reference.parse_docker_ref(text)
    want = parse_platform(platform)
    client = client or RegistryClient(ref.domain)
    repo = ref.path
    ident = ref.digest or ref.tag or "latest"
    given = reference.parse(text)
    if given.tag is None and given.digest is None:
        yield StatusLine(f"Using default tag: {ref.tag}")
    resolved = resolve(client, repo, ident, want)
    yield StatusLine(f"{ident}: Pulling from {repo}")
    m = resolved.manifest
    with store.ingesting():
        if not store.has_blob(m.config.digest):
            config = client.get_json_blob(repo, m.config.digest)
            _checked_config(config, m.config.digest, client.domain)
            store.write_blob(config, expected_digest=m.config.digest)
        missing: list[Descriptor] = []
        for layer in m.layers:
            if store.has_blob(layer.digest):
                yield LayerProgress(short(layer.digest), "Already exists")
            elif layer.digest not in {d.digest for d in missing}:
                missing.append(layer)
                yield LayerProgress(short(layer.digest), "Pulling fs layer")
        if missing:
            yield from _download_all(client, store, repo, missing, workers)
        store.write_blob(resolved.data, expected_digest=resolved.manifest_digest)
        digest_name = f"{ref.name}@{resolved.repo_digest}"
        tag_name = f"{ref.name}:{ref.tag}" if ref.tag and ref.digest is None else None
        prior = store.read_index().get(tag_name or digest_name)
        up_to_date = prior is not None and _config_digest(store, prior.digest) == m.config.digest
        staged = archive._Staged(
            Descriptor(resolved.media_type, resolved.manifest_digest, len(resolved.data)),
            m.config.digest,
            [n for n in (tag_name, digest_name) if n],
        )
        archive._commit(store, [staged])
    yield StatusLine(f"Digest: {resolved.repo_digest}")
    shown = reference.familiar(tag_name or digest_name)
    if up_to_date:
        yield StatusLine(f"Status: Image is up to date for {shown}")
    else:
        yield StatusLine(f"Status: Downloaded newer image for {shown}")
    yield StatusLine(tag_name or digest_name)


def _config_digest(store: Store, manifest_digest: str) -> str | None:
    try:
        return store.read_manifest(manifest_digest).config.digest
    except Exception:
        return None


def _checked_config(data: bytes, digest: str, domain: str) -> None:
    try:
        oci.parse_config(data, f"config {digest}")
    except oci.FormatError as e:
        raise RegistryError(f"registry {domain}: {e}") from None


def _download_all(
    client: RegistryClient, store: Store, repo: str, layers: list[Descriptor], workers: int
) -> Iterator[ProgressEvent]:
    """Download on threads and relay their events; the first failure stops the rest."""

    def job(layer: Descriptor) -> Job[ProgressEvent]:
        return lambda emit, cancel: fetch_blob(client, store, repo, layer, emit, cancel)

    yield from relay(
        [job(layer) for layer in layers], workers=workers, name="imgtui-pull", quiet=(_Cancelled,)
    )
    for layer in layers:
        yield LayerProgress(short(layer.digest), "Pull complete")


def fetch_blob(
    client: RegistryClient,
    store: Store,
    repo: str,
    desc: Descriptor,
    emit: Callable[[ProgressEvent], None],
    cancel: threading.Event,
) -> None:
    """One blob into the store: streamed, hashed on the way, resumed, checked, then renamed."""
    layer = short(desc.digest)
    what = f"blob {desc.digest} of {client.domain}/{repo}"
    fd, partial = _open_partial(store, desc.digest)
    out: BlobFile | None = None
    try:
        h = hashlib.sha256()
        offset = _rehash(fd, h, desc.size)
        out = BlobFile(fd, partial, offset, desc.size)
        speed = Rate(offset)
        failures = 0
        last = 0.0
        while offset < desc.size or desc.size == 0:
            if cancel.is_set():
                raise _Cancelled
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            resp = client.request(
                "GET",
                f"/v2/{repo}/blobs/{desc.digest}",
                scope=pull_scope(repo),
                headers=headers,
                what=what,
            )
            try:
                if resp.status == 206 and _range_start(resp.header("Content-Range")) == offset:
                    pass
                elif resp.status == 200:
                    if offset:  # the registry ignored Range: start over
                        offset = 0
                        h = hashlib.sha256()
                        os.ftruncate(fd, 0)
                        out.seek(0)
                else:
                    raise client.fail(resp, what)
                while True:
                    if cancel.is_set():
                        raise _Cancelled
                    space = out.space()
                    n = _fill(resp, space)
                    if n == 0:
                        break
                    offset += n
                    if offset > desc.size:
                        raise RegistryError(
                            f"registry {client.domain}: {what}: more than the {desc.size} bytes "
                            "the manifest declares"
                        )
                    h.update(space[:n])
                    out.commit(n)
                    now = time.monotonic()
                    if now - last >= PROGRESS_EVERY:
                        last = now
                        rate = speed.update(offset, now)
                        emit(LayerProgress(layer, "Downloading", offset, desc.size, rate))
            except (OSError, http.client.HTTPException) as e:
                if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                    raise
                failures += 1
                if failures >= client.attempts:
                    raise RegistryError(
                        f"registry {client.domain}: {what}: {_reason(e)} "
                        f"(after {failures} attempts)"
                    ) from None
                out.flush()  # the file holds what was hashed: the retry resumes from there
                client._sleep(failures)
                continue
            finally:
                resp.close()
            out.flush()
            if desc.size == 0:
                break
            if offset < desc.size:
                failures += 1
                if failures >= client.attempts:
                    raise RegistryError(
                        f"registry {client.domain}: {what}: connection closed after {offset} of "
                        f"{desc.size} bytes (after {failures} attempts)"
                    )
                client._sleep(failures)
        emit(LayerProgress(layer, "Verifying Checksum"))
        digest = "sha256:" + h.hexdigest()
        if digest != desc.digest:
            os.ftruncate(fd, 0)  # bad bytes must not be resumed from
            raise RegistryError(
                f"registry {client.domain}: {what}: content has digest {digest}, not {desc.digest}"
            )
        os.fsync(fd)
        final = store.blob_path(desc.digest)
        os.replace(partial, final)
        partial = ""
        fsync_dir(final.parent)
        emit(LayerProgress(layer, "Download complete"))
    finally:
        if out is not None:
            if partial:  # stopped early (cancel, a bad answer): keep what was hashed, for resume
                with contextlib.suppress(OSError, ValueError):
                    out.flush()
            out.close()
        os.close(fd)
        if partial and os.path.exists(partial) and os.path.getsize(partial) == 0:
            with contextlib.suppress(OSError):
                os.unlink(partial)


def _open_partial(store: Store, digest: str) -> tuple[int, str]:
    """The resumable partial file of a blob, locked; a private temp file if another pull has it."""
    path = str(store.tmp / f"pull-{digest.removeprefix('sha256:')}.partial")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, path
    except BlockingIOError:
        os.close(fd)
    fd, tmp = tempfile.mkstemp(dir=store.tmp, prefix="pull-", suffix=".partial")
    os.fchmod(fd, 0o644)
    return fd, tmp


def _rehash(fd: int, h: hashlib._Hash, size: int) -> int:
    """Hash what an earlier run left; returns where to resume (0 if it cannot be trusted)."""
    have = os.fstat(fd).st_size
    if have == 0 or have > size:
        os.ftruncate(fd, 0)
        return 0
    offset = 0
    while offset < have:
        chunk = os.pread(fd, min(CHUNK, have - offset), offset)
        if not chunk:
            break
        h.update(chunk)
        offset += len(chunk)
    return offset


def _fill(resp, mv: memoryview) -> int:
    """Read until the buffer is full or the body ends: fewer, larger hash and write calls."""
    filled = 0
    size = len(mv)
    while filled < size:
        n = resp.readinto(mv[filled:])
        if not n:
            break
        filled += n
    return filled


def _range_start(content_range: str) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None
