"""Backend.analyze for both backends, kept here so the backends only gain a two-line method.

Built-in store: layers are read from their blobs (gzip, zstd or plain), results cached in the
store's side folder (dropping it loses nothing). Docker: `inspect` names the config and the
diff_ids, so a cached image never touches the export; otherwise `GET /images/{id}/get` (a
`docker save` tar) is streamed once and every layer scanned as it passes; the cache is the user
cache dir keyed by diff_id (the same key as for archives, so a `docker save` analysed before
makes the daemon's image cheap too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO, Any

from imgtui.analysis.engine import AnalysisError, Cache, Progress, RandomAccessSource
from imgtui.analysis.model import ImageAnalysis
from imgtui.analysis.sources import ExportStreamSource, pick_platform
from imgtui.backends.base import BackendError, ImageNotFound, InvalidArgument, Unsupported


def analyze_store(
    backend: Any,
    ref: str,
    *,
    platform: str | None,
    trees: bool,
    progress: Progress | None,
) -> ImageAnalysis:
    """The analysis of an image of the built-in store (`backend` is a BuiltinBackend)."""
    from imgtui import reference
    from imgtui.analysis.api import run
    from imgtui.store import layers as store_layers
    from imgtui.store import oci

    store = backend.store
    manifest_digest: str | None = None
    try:
        name = reference.normalize(ref)
    except Exception:
        name = None
    entry = store.read_index().get(name) if name else None
    try:
        if entry is not None and entry.descriptor.media_type in oci.INDEX_TYPES:
            children = oci.parse_index(store.read_blob(entry.descriptor.digest), ref)
            manifest_digest = pick_platform(children, platform, ref).digest
        else:
            image = backend._resolve(ref, backend._images())
            manifests = [m for m in image.manifests if m.media_type in oci.MANIFEST_TYPES]
            if not manifests:
                raise ImageNotFound(f"No such image: {ref}")
            manifest_digest = manifests[0].digest
            if platform is not None:
                config = store.read_config(image.id)
                have = f"{config.get('os')}/{config.get('architecture')}"
                if not platform.startswith(have):
                    raise InvalidArgument(f"{ref} is a {have} image, not {platform}")
        manifest = store.read_manifest(manifest_digest)
        config_digest = manifest.config.digest
        config = store.read_config(config_digest)
        diff_ids = [str(d) for d in config["rootfs"]["diff_ids"]]
        if len(diff_ids) != len(manifest.layers):
            raise BackendError(f"{ref}: manifest and config disagree on the number of layers")
        blobs = [layer.digest for layer in manifest.layers]

        @contextlib.contextmanager
        def opener(i: int) -> Iterator[IO[bytes]]:
            with store_layers.open_layer(store, blobs[i]) as stream:
                yield stream

        source = RandomAccessSource(
            ref, config_digest, config, diff_ids, opener, lambda i: f"layer {blobs[i]}"
        )
        return run(source, Cache(store.cache / "analysis"), trees=trees, progress=progress)
    except AnalysisError as e:
        raise BackendError(str(e)) from None
    except (oci.FormatError, OSError) as e:
        raise BackendError(f"{ref}: {e} (run imgtui fsck)") from None


def analyze_docker(
    backend: Any,
    ref: str,
    *,
    platform: str | None,
    trees: bool,
    progress: Progress | None,
) -> ImageAnalysis:
    """The analysis of a daemon's image (`backend` is a DockerBackend)."""
    from imgtui.analysis.api import run, user_cache

    if platform is not None:
        raise Unsupported(
            "--platform: the daemon holds one platform per image; "
            "use it with the built-in store or an OCI layout"
        )
    detail = backend.inspect(ref)
    image_id = detail.id

    @contextlib.contextmanager
    def export() -> Iterator[IO[bytes]]:
        lean = backend._lean()
        if lean is not None:
            # HTTP/1.0 straight on the socket: the tar arrives unchunked, read in big blocks
            with _raw_export(lean, image_id, ref) as stream:
                yield stream
            return
        api = backend._api()
        res = backend._call(
            lambda: api._get(api._url("/images/{0}/get", image_id), stream=True), what=ref
        )
        try:
            backend._call(lambda: api._raise_for_status(res), what=ref)
            yield res.raw
        finally:
            res.close()

    cache = user_cache()
    source = ExportStreamSource(ref, image_id, list(detail.layers), export, cache)
    try:
        return run(source, cache, trees=trees, progress=progress)
    except AnalysisError as e:
        raise BackendError(str(e)) from None


@contextlib.contextmanager
def _raw_export(lean: Any, image_id: str, ref: str) -> Iterator[IO[bytes]]:
    """`GET /images/{id}/get` over a plain socket (unix or tcp without TLS), body as a stream."""
    from urllib.parse import quote

    try:
        sock = lean._connect()
    except OSError as e:
        raise BackendError(f"export of {ref}: cannot reach the daemon ({e})") from None
    with sock, sock.makefile("rb", buffering=1 << 20) as f:
        request = f"GET /images/{quote(image_id, safe=':')}/get HTTP/1.0\r\nHost: docker\r\n\r\n"
        try:
            sock.sendall(request.encode())
            status_line = f.readline(4096).decode("latin-1")
            headers = {}
            while (line := f.readline(8192)) not in (b"\r\n", b"\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip().lower()
        except OSError as e:
            raise BackendError(f"export of {ref}: {e}") from None
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise BackendError(f"export of {ref}: the daemon's answer is not HTTP")
        if int(parts[1]) >= 400:
            body = f.read(1 << 16).decode(errors="replace").strip()
            raise BackendError(f"export of {ref}: {body or status_line.strip()}")
        if "chunked" in headers.get("transfer-encoding", ""):
            raise BackendError(f"export of {ref}: the daemon answered HTTP/1.0 with chunks")
        yield f  # type: ignore[misc]
