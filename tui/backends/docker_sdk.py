"""The Docker backend: any daemon the docker SDK can reach, mapped onto the Backend interface.

The SDK is imported lazily: read-only listings on a local socket go through the lean stdlib
transport (docker_http), so `imgtui images` starts about as fast as `docker images`. Every SDK error
is turned into a BackendError subclass with the daemon's own one-line message.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from imgtui.backends import docker_endpoint
from imgtui.backends.base import (
    BackendError,
    BackendInfo,
    BackendUnavailable,
    BuildCacheUsage,
    BuildError,
    BuildLog,
    BuildOptions,
    BuildResult,
    BuildStep,
    BytesProgress,
    ChangeEvent,
    Conflict,
    ContainerNotFound,
    ContainerSummary,
    ContainerUsage,
    DiskUsage,
    HistoryEntry,
    ImageDetail,
    ImageFilter,
    ImageNotFound,
    ImageSummary,
    ImageUsage,
    InvalidArgument,
    InvalidReference,
    LayerProgress,
    ProgressEvent,
    PruneReport,
    RegistryError,
    RemoveResult,
    StatusLine,
    VolumeUsage,
)
from imgtui.backends.convert import image_config, parse_until
from imgtui.backends.docker_endpoint import DockerEndpoint
from imgtui.backends.docker_http import DockerHTTPError, LeanDockerClient
from imgtui.fsutil import atomic_file
from imgtui.rate import Rates

T = TypeVar("T")

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"
# History rows the API reports without their EmptyLayer flag: metadata-only instructions.
# WORKDIR is not one of them: both builders commit a (often 0-byte) layer for it.
_METADATA = re.compile(
    r"^(/bin/sh -c #\(nop\)\s+)?(CMD|ENTRYPOINT|ENV|LABEL|EXPOSE|USER|VOLUME|STOPSIGNAL"
    r"|HEALTHCHECK|SHELL|ONBUILD|ARG|MAINTAINER)\b"
)
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def _utc(ts: int | float | None) -> datetime:
    return datetime.fromtimestamp(ts or 0, tz=timezone.utc)


def _parse_time(text: str | None) -> datetime | None:
    """A daemon timestamp; Go's zero time ("0001-01-01…") means none."""
    if not text or text.startswith("0001-01-01"):
        return None
    from imgtui import fmt

    return fmt.parse_rfc3339(text)


def _tags(values: Sequence[str] | None, none: str) -> tuple[str, ...]:
    return tuple(v for v in (values or ()) if v != none)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class DockerBackend:
    """A Docker daemon through the docker SDK; blocking, thread-safe for concurrent calls."""

    name = "docker"

    def __init__(
        self,
        host: str | None = None,
        *,
        context: str | None = None,
        timeout: float = 60.0,
        endpoint: DockerEndpoint | None = None,
    ) -> None:
        self._endpoint = endpoint or docker_endpoint.resolve(host, context)
        self._timeout = timeout
        self._sdk: Any = None
        self._sdk_lock = threading.Lock()
        self._lean_local = threading.local()
        self._streams: list[Any] = []
        self._closed = False
        self._bridge: Any = None  # SSHBridge for ssh:// daemons, made on first use

    # ------------------------------------------------------------------ plumbing

    @property
    def endpoint(self) -> DockerEndpoint:
        return self._endpoint

    def _url(self) -> str:
        """Where to connect: the endpoint itself, or the local end of its ssh bridge."""
        url = self._endpoint.base_url
        if not url.startswith("ssh://"):
            return url
        with self._sdk_lock:
            if self._bridge is None:
                from imgtui.backends.docker_ssh import SSHBridge

                self._bridge = SSHBridge(url)
            return str(self._bridge.base_url)

    def _unavailable(self, detail: object = "") -> BackendUnavailable:
        url = self._endpoint.base_url
        why = _one_line(str(detail)) if detail else "is the docker daemon running?"
        if self._bridge is not None and self._bridge.last_error:
            why = _one_line(self._bridge.last_error)
        return BackendUnavailable(f"cannot connect to the Docker daemon at {url}: {why}")

    def _api(self) -> Any:
        """The SDK's low-level APIClient, created on first use."""
        url = self._url()
        with self._sdk_lock:
            if self._sdk is None:
                import docker
                from docker.errors import DockerException

                ep = self._endpoint
                tls: Any = False
                if ep.tls is not None:
                    client_cert = (ep.tls.cert, ep.tls.key) if ep.tls.cert and ep.tls.key else None
                    tls = docker.tls.TLSConfig(
                        client_cert=client_cert,
                        ca_cert=ep.tls.ca,
                        verify=ep.tls.ca if ep.tls.verify and ep.tls.ca else ep.tls.verify,
                    )
                base_url = url
                if tls and base_url.startswith("tcp://"):
                    base_url = "https://" + base_url[len("tcp://") :]
                try:
                    self._sdk = docker.APIClient(
                        base_url=base_url,
                        version="auto",
                        timeout=int(self._timeout),
                        tls=tls,
                    )
                except DockerException as e:
                    raise self._unavailable(_sdk_reason(e)) from None
            return self._sdk

    def _lean(self) -> LeanDockerClient | None:
        url = self._url()
        if not LeanDockerClient.supports(url, self._endpoint.tls is not None):
            return None
        client = getattr(self._lean_local, "client", None)
        if client is None:
            client = LeanDockerClient(url, self._timeout)
            self._lean_local.client = client
        return client

    def _get(self, path: str, params: dict[str, Any] | None = None, *, what: str = "") -> Any:
        """A read-only JSON GET, through the lean transport when it can serve this daemon."""
        lean = self._lean()
        if lean is None:
            api = self._api()
            return self._call(
                lambda: api._result(api._get(api._url(path), params=params), True), what
            )
        try:
            return lean.get_json(path, params)
        except DockerHTTPError as e:
            raise _map_status(e.status, e.message, what) from None
        except OSError as e:
            raise self._unavailable(getattr(e, "strerror", None) or e) from None

    def _call(self, fn: Callable[[], T], what: str = "") -> T:
        """Run one SDK call, turning its exceptions into BackendErrors."""
        try:
            return fn()
        except BackendError:
            raise
        except Exception as e:
            raise self._map(e, what) from None

    def _map(self, e: Exception, what: str = "") -> BackendError:
        from docker import errors
        from requests import exceptions as rex

        if isinstance(e, errors.APIError):
            status = e.response.status_code if e.response is not None else 500
            return _map_status(status, _api_message(e), what)
        if isinstance(e, (rex.ConnectionError, ConnectionError, FileNotFoundError)):
            return self._unavailable(_sdk_reason(e))
        if isinstance(e, rex.Timeout):
            return self._unavailable(f"no answer within {self._timeout:.0f}s")
        if isinstance(e, errors.DockerException):
            return BackendError(_sdk_reason(e))
        return BackendError(f"{type(e).__name__}: {_one_line(str(e))}")

    def _stream(self, gen: Iterator[dict[str, Any]], what: str) -> Iterator[dict[str, Any]]:
        """Iterate a decoded JSON stream; an {"error": …} chunk becomes an exception."""
        it = iter(gen)
        while True:
            try:
                chunk = next(it)
            except StopIteration:
                return
            except BackendError:
                raise
            except Exception as e:
                raise self._map(e, what) from None
            if isinstance(chunk, dict) and chunk.get("error"):
                detail = chunk.get("errorDetail") or {}
                raise _StreamError(str(chunk["error"]).strip(), detail.get("code"))
            yield chunk

    def close(self) -> None:
        self._closed = True
        for stream in list(self._streams):
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()
        client = getattr(self._lean_local, "client", None)
        if client is not None:
            client.close()
        if self._sdk is not None:
            with contextlib.suppress(Exception):
                self._sdk.close()
            self._sdk = None
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

    # ------------------------------------------------------------------ info

    def info(self) -> BackendInfo:
        version = self._get("/version", what="version")
        return BackendInfo(
            name="docker",
            location=self._endpoint.base_url,
            version=str(version.get("Version", "")) if isinstance(version, dict) else "",
            context=self._endpoint.context,
        )

    def ping(self) -> bool:
        """True when the daemon answers; never raises."""
        try:
            self._get("/_ping")
        except BackendError:
            return False
        return True

    # ------------------------------------------------------------------ images

    def images(
        self, *, all: bool = False, filters: ImageFilter | None = None
    ) -> list[ImageSummary]:
        params: dict[str, Any] = {"all": "1" if all else None}
        until = None
        if filters is not None:
            # Daemons before API 1.4x refuse `until` on image lists: apply it here, for all.
            until = parse_until(filters.until)
            f = _filters_dict(filters)
            f.pop("until", None)
            if f:
                params["filters"] = _json(f)
        # The daemon can fail a listing when an image is deleted while it walks the store.
        for attempt in range(3):
            try:
                raw = self._get("/images/json", params, what="images")
                break
            except BackendError as e:
                if attempt == 2 or isinstance(e, (BackendUnavailable, InvalidArgument)):
                    raise
        summaries = [_image_summary(i) for i in raw or ()]
        if until is not None:
            summaries = [i for i in summaries if i.created < until]
        return summaries

    def inspect(self, ref: str) -> ImageDetail:
        raw = self._get(f"/images/{_quote(ref)}/json", what=ref)
        return _image_detail(raw)

    def history(self, ref: str) -> list[HistoryEntry]:
        rows = self._get(f"/images/{_quote(ref)}/history", what=ref)
        out = []
        for r in rows or ():
            created_by = r.get("CreatedBy") or ""
            size = int(r.get("Size") or 0)
            out.append(
                HistoryEntry(
                    id=r.get("Id") or "<missing>",
                    created=_utc(r["Created"]) if r.get("Created") else None,
                    created_by=created_by,
                    size=size,
                    comment=r.get("Comment") or "",
                    tags=tuple(r.get("Tags") or ()),
                    empty_layer=size == 0 and bool(_METADATA.match(created_by)),
                )
            )
        return out

    def original_dockerfile(self, ref: str) -> str | None:
        """The daemon keeps no Dockerfile with an image: callers reconstruct one from history."""
        self.inspect(ref)  # an unknown image is still an error
        return None

    def tag(self, source: str, target: str) -> None:
        from imgtui import reference

        ref = reference.parse_docker_ref(target)
        if ref.digest:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        api = self._api()
        self._call(lambda: api.tag(source, ref.name, ref.tag), what=source)

    def remove(self, ref: str, *, force: bool = False, no_prune: bool = False) -> RemoveResult:
        api = self._api()
        rows = self._call(lambda: api.remove_image(ref, force=force, noprune=no_prune), what=ref)
        return _remove_result(rows or ())

    def prune_images(self, *, all: bool = False, until: str | None = None) -> PruneReport:
        filters: dict[str, Any] = {"dangling": "false" if all else "true"}
        if until:
            parse_until(until)  # the daemon's own complaint is an HTTP 500 with Go's layout text
            filters["until"] = until
        api = self._api()
        res = self._call(lambda: api.prune_images(filters=filters), what="image prune")
        return _image_prune_report(res)

    def prune_build_cache(self, *, all: bool = False) -> PruneReport:
        api = self._api()
        res = self._call(lambda: api.prune_builds(all=all or None), what="builder prune")
        return PruneReport(
            deleted_build_cache=tuple(res.get("CachesDeleted") or ()),
            space_reclaimed=int(res.get("SpaceReclaimed") or 0),
        )

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        """What `docker system prune` does: containers, networks, [volumes], images, build cache."""
        api = self._api()
        c = self._call(lambda: api.prune_containers(), what="container prune")
        report = PruneReport(
            deleted_containers=tuple(c.get("ContainersDeleted") or ()),
            space_reclaimed=int(c.get("SpaceReclaimed") or 0),
        )
        n = self._call(lambda: api.prune_networks(), what="network prune")
        report += PruneReport(deleted_networks=tuple(n.get("NetworksDeleted") or ()))
        if volumes:
            v = self._call(lambda: api.prune_volumes(), what="volume prune")
            report += PruneReport(
                deleted_volumes=tuple(v.get("VolumesDeleted") or ()),
                space_reclaimed=int(v.get("SpaceReclaimed") or 0),
            )
        report += self.prune_images(all=all)
        report += self.prune_build_cache(all=all)
        return report

    def disk_usage(self) -> DiskUsage:
        raw = self._get("/system/df", what="system df")
        images = tuple(
            ImageUsage(
                id=i["Id"],
                repo_tags=_tags(i.get("RepoTags"), NONE_TAG),
                created=_utc(i.get("Created")),
                size=int(i.get("Size") or 0),
                shared_size=max(int(i.get("SharedSize") or 0), 0),
                containers=max(int(i.get("Containers") or 0), 0),
            )
            for i in raw.get("Images") or ()
        )
        containers = tuple(
            ContainerUsage(
                id=c["Id"],
                name=((c.get("Names") or ["/" + c["Id"][:12]])[0]).lstrip("/"),
                image=c.get("Image") or "",
                size_rw=int(c.get("SizeRw") or 0),
                running=c.get("State") in ("running", "paused", "restarting"),
                command=c.get("Command") or "",
                created=_utc(c.get("Created")),
                status=c.get("Status") or "",
                local_volumes=sum(1 for m in c.get("Mounts") or () if m.get("Type") == "volume"),
            )
            for c in raw.get("Containers") or ()
        )
        volumes = tuple(
            VolumeUsage(
                name=v.get("Name", ""),
                size=int((v.get("UsageData") or {}).get("Size", -1)),
                links=int((v.get("UsageData") or {}).get("RefCount", 0)),
            )
            for v in raw.get("Volumes") or ()
        )
        cache = tuple(
            BuildCacheUsage(
                id=b.get("ID", ""),
                kind=b.get("Type", ""),
                size=int(b.get("Size") or 0),
                in_use=bool(b.get("InUse")),
                shared=bool(b.get("Shared")),
                description=b.get("Description") or "",
                created=_parse_time(b.get("CreatedAt")),
                last_used=_parse_time(b.get("LastUsedAt")),
                usage_count=int(b.get("UsageCount") or 0),
            )
            for b in raw.get("BuildCache") or ()
        )
        return DiskUsage(
            layers_size=int(raw.get("LayersSize") or 0),
            images=images,
            containers=containers,
            volumes=volumes,
            build_cache=cache,
        )

    # ------------------------------------------------------------------ long operations

    def build(self, options: BuildOptions) -> Iterator[ProgressEvent]:
        from imgtui import reference

        tags = [reference.normalize(t) for t in options.tags]
        context = Path(options.context)
        if not context.is_dir():
            raise InvalidArgument(f"unable to prepare context: path {str(context)!r} not found")
        dockerfile = options.dockerfile
        if dockerfile is not None:
            path = Path(dockerfile)
            full = path if path.is_absolute() else context / path
            if not full.is_file():
                raise InvalidArgument(
                    f"unable to prepare context: Dockerfile {str(full)!r} not found"
                )
        elif not (context / "Dockerfile").is_file():
            raise InvalidArgument(
                f"unable to prepare context: no Dockerfile in {str(context)!r} (use -f)"
            )
        api = self._api()

        def start() -> Iterator[dict[str, Any]]:
            return api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tags[0] if tags else None,
                buildargs=dict(options.build_args) or None,
                target=options.target,
                nocache=options.no_cache,
                pull=options.pull,
                network_mode=options.network_mode,
                labels=dict(options.labels) or None,
                platform=options.platform,
                rm=True,
                forcerm=True,
                decode=True,
            )

        image_id = ""
        step = ""
        tail: list[str] = []  # the current step's last output lines, for the error message
        try:
            for chunk in self._stream(self._call(start, "build"), "build"):
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = aux["ID"]
                text = chunk.get("stream")
                if not text:
                    continue
                m = _STEP.match(text.strip())
                if m:
                    step = m.group(3)
                    tail.clear()
                    yield BuildStep(int(m.group(1)), int(m.group(2)), m.group(3))
                else:
                    tail.extend(line for line in text.splitlines() if _is_output(line))
                    del tail[:-3]
                    yield BuildLog(text)
        except _StreamError as e:
            where = f" (step: {step})" if step else ""
            output = f": {_one_line(' / '.join(tail))}" if tail else ""
            raise BuildError(_one_line(e.message) + where + output) from None
        except InvalidArgument as e:
            raise BuildError(str(e)) from None
        if not image_id:
            raise BuildError("the daemon finished the build without reporting an image id")
        for t in tags[1:]:
            r = reference.parse_docker_ref(t)
            self._call(lambda r=r: api.tag(image_id, r.name, r.tag), what=t)
        yield BuildResult(image_id=image_id, tags=tuple(reference.familiar(t) for t in tags))

    def pull(self, ref: str, *, platform: str | None = None) -> Iterator[ProgressEvent]:
        from imgtui import reference

        r = reference.parse_docker_ref(ref)
        api = self._api()
        tag_or_digest = r.digest or r.tag
        try:
            gen = api.pull(r.name, tag=tag_or_digest, stream=True, decode=True, platform=platform)
        except Exception as e:
            err = self._map(e, ref)
            if type(err) is BackendError or isinstance(err, InvalidArgument):
                raise _pull_error(str(err), ref) from None  # e.g. the registry does not answer
            raise err from None
        rates = Rates()
        try:
            for chunk in self._stream(gen, ref):
                yield _progress(chunk, rates)
        except _StreamError as e:
            raise _pull_error(e.message, ref) from None
        yield StatusLine(str(r))

    def push(self, ref: str) -> Iterator[ProgressEvent]:
        from imgtui import reference

        r = reference.parse_docker_ref(ref)
        api = self._api()
        gen = self._call(lambda: api.push(r.name, tag=r.tag, stream=True, decode=True), what=ref)
        rates = Rates()
        try:
            for chunk in self._stream(gen, ref):
                if "aux" in chunk and "status" not in chunk:
                    continue
                yield _progress(chunk, rates)
        except _StreamError as e:
            msg = _one_line(e.message)
            if "does not exist locally" in msg:
                raise ImageNotFound(msg) from None
            if "denied" in msg or "unauthorized" in msg or "authentication required" in msg:
                from imgtui.backends.base import AuthError

                raise AuthError(msg) from None
            raise RegistryError(msg) from None

    def save(self, refs: Sequence[str], dest: Path) -> Iterator[ProgressEvent]:
        """Stream `docker save` to a temp file beside `dest`, renamed into place only when whole."""
        if not refs:
            raise InvalidArgument("save: at least one image is required")
        api = self._api()
        dest = Path(dest)
        dest_dir = dest.parent if str(dest.parent) else Path(".")
        if not dest_dir.is_dir():
            raise InvalidArgument(f"save: directory {str(dest_dir)!r} does not exist")
        for r in refs:  # the daemon would fail mid-stream; say which name is wrong first
            self.inspect(r)
        res = self._call(
            lambda: api._get(api._url("/images/get"), params={"names": list(refs)}, stream=True),
            what=", ".join(refs),
        )
        self._call(lambda: api._raise_for_status(res), what=", ".join(refs))
        done = 0
        try:
            with atomic_file(dest) as out:
                for chunk in self._call(lambda: res.iter_content(1 << 20), "save"):
                    out.write(chunk)
                    done += len(chunk)
                    yield BytesProgress(done)
        finally:
            res.close()

    def load(self, source: Path) -> Iterator[ProgressEvent]:
        source = Path(source)
        try:
            fh = source.open("rb")
        except OSError as e:
            raise InvalidArgument(f"load: cannot open {str(source)!r}: {e.strerror}") from None
        total = source.stat().st_size
        api = self._api()
        with fh:
            gen = self._call(lambda: api.load_image(fh), what=str(source))
            loaded = False
            try:
                for chunk in self._stream(gen, str(source)):
                    text = (chunk.get("stream") or chunk.get("status") or "").strip()
                    if text:
                        loaded = loaded or text.startswith("Loaded image")
                        yield StatusLine(text)
            except _StreamError as e:
                raise InvalidArgument(f"load: {source}: {_one_line(e.message)}") from None
            except BackendError as e:
                if isinstance(e, BackendUnavailable):
                    raise
                raise InvalidArgument(f"load: {source}: {e}") from None
            yield BytesProgress(total, total)
            if not loaded:
                raise InvalidArgument(f"load: {source}: the archive holds no image")

    # ------------------------------------------------------------------ containers

    def containers(self, *, all: bool = False) -> list[ContainerSummary]:
        rows = self._get("/containers/json", {"all": "1" if all else None}, what="containers")
        return [
            ContainerSummary(
                id=c["Id"],
                names=tuple(n.lstrip("/") for n in c.get("Names") or ()),
                image=c.get("Image") or "",
                image_id=c.get("ImageID") or "",
                command=c.get("Command") or "",
                created=_utc(c.get("Created")),
                state=c.get("State") or "",
                status=c.get("Status") or "",
                size_rw=c.get("SizeRw"),
                size_root_fs=c.get("SizeRootFs"),
                labels=dict(c.get("Labels") or {}),
            )
            for c in rows or ()
        ]

    def run_container(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        name: str | None = None,
        tty: bool = False,
        network: str = "none",
        remove: bool = False,
        output: Any = None,
        cancel: Any = None,
    ) -> tuple[str, int]:
        """docker run, attached to its output (an interactive -it session stays docker's own)."""
        if tty:
            from imgtui.backends.base import Unsupported

            raise Unsupported("run -it on a daemon: use `docker run -it` instead")
        api = self._api()
        created = self._call(
            lambda: api.create_container(
                image,
                command=list(command) or None,
                name=name,
                host_config=api.create_host_config(network_mode=network),
            ),
            what=image,
        )
        cid = created["Id"]
        try:
            self._call(lambda: api.start(cid), what=image)
            for chunk in self._call(
                lambda: api.logs(cid, stream=True, follow=True, stdout=True, stderr=True),
                what=image,
            ):
                if output is not None:
                    output(chunk)
            code = int(self._call(lambda: api.wait(cid), what=image).get("StatusCode", 0))
        finally:
            if remove:
                with contextlib.suppress(Exception):
                    api.remove_container(cid, force=True)
        return cid, code

    def remove_container(self, key: str, *, force: bool = False) -> None:
        api = self._api()
        self._call(lambda: api.remove_container(key, force=force), what=key)

    def commit(
        self,
        container: str,
        ref: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: Sequence[str] = (),
        pause: bool = True,
    ) -> str:
        from imgtui import reference

        repo = tag = None
        if ref:
            r = reference.parse_docker_ref(ref)
            if r.digest:
                raise InvalidReference(f"refusing to create a tag with a digest reference: {ref}")
            repo, tag = r.name, r.tag
        api = self._api()
        try:
            res = api.commit(
                container,
                repository=repo,
                tag=tag,
                message=message or None,
                author=author or None,
                changes=list(changes) or None,
                pause=pause,
            )
        except Exception as e:
            err = self._map(e, container)
            if isinstance(err, ImageNotFound):
                raise ContainerNotFound(str(err)) from None
            raise err from None
        return str(res["Id"])

    # ------------------------------------------------------------------ events

    def analyze(
        self,
        ref: str,
        *,
        platform: str | None = None,
        trees: bool = False,
        progress: Any = None,
    ) -> Any:
        """dive's figures for an image, layers read once and cached (see imgtui.analysis)."""
        from imgtui.analysis.backends import analyze_docker

        return analyze_docker(self, ref, platform=platform, trees=trees, progress=progress)

    def events(self) -> Iterator[ChangeEvent]:
        """Image, container and builder events until close() is called."""
        api = self._api()
        filters = {"type": ["image", "container", "builder"]}
        stream = self._call(lambda: api.events(decode=True, filters=filters), "events")
        self._streams.append(stream)
        try:
            for e in self._stream(stream, "events"):
                kind = e.get("Type") or "other"
                actor = e.get("Actor") or {}
                nano = e.get("timeNano")
                yield ChangeEvent(
                    kind=kind if kind in ("image", "container", "builder") else "other",
                    action=(e.get("Action") or e.get("status") or "").split(":")[0],
                    id=actor.get("ID") or e.get("id") or "",
                    time=_utc(nano / 1e9) if nano else None,
                )
        except BackendError:
            if not self._closed:
                raise
        finally:
            with contextlib.suppress(ValueError):
                self._streams.remove(stream)


class _StreamError(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ---------------------------------------------------------------------- mapping helpers


def _quote(ref: str) -> str:
    from urllib.parse import quote

    return quote(ref, safe="/:@")


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _api_message(e: Any) -> str:
    explanation = getattr(e, "explanation", None)
    if explanation:
        return str(explanation)
    return str(e)


def _sdk_reason(e: BaseException) -> str:
    text = _one_line(str(e))
    # requests' messages nest the real cause deep inside; keep the innermost useful part.
    for pattern in (
        r"\[Errno -?\d+\] ([^'\")\]]+)",
        r"(Connection refused|No such file or directory|Name or service not known|timed out)",
    ):
        m = re.search(pattern, text)
        if m:
            return m.group(1).strip()
    return text


def _map_status(status: int, message: str, what: str = "") -> BackendError:
    msg = _one_line(message) or f"HTTP {status}"
    low = msg.lower()
    if status == 404:
        if "container" in low and "no such container" in low:
            return ContainerNotFound(msg)
        if "manifest unknown" in low or "not found" in low or "no such" in low:
            return ImageNotFound(msg)
        return ImageNotFound(msg)
    if status == 409:
        return Conflict(msg)
    if "invalid reference format" in low or "repository name must" in low:
        return InvalidReference(msg)
    if status == 400 or "parsing time" in low or "failed to parse value as time" in low:
        return InvalidArgument(msg)
    if status in (401, 403):
        from imgtui.backends.base import AuthError

        return AuthError(msg)
    return BackendError(msg)


def _pull_error(message: str, ref: str) -> BackendError:
    msg = _one_line(message)
    low = msg.lower()
    if "manifest unknown" in low or "not found" in low:
        return ImageNotFound(msg)
    if "unauthorized" in low or "denied" in low or "authentication required" in low:
        from imgtui.backends.base import AuthError

        return AuthError(msg)
    return RegistryError(msg)


def _is_output(line: str) -> bool:
    """A line the build step's command printed (not the builder's own bookkeeping)."""
    text = line.strip()
    return bool(text) and not text.startswith(("--->", "Running in ", "Removing intermediate"))


def _filters_dict(f: ImageFilter) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if f.dangling is not None:
        out["dangling"] = ["true" if f.dangling else "false"]
    if f.labels:
        out["label"] = list(f.labels)
    if f.references:
        out["reference"] = list(f.references)
    for key in ("before", "since", "until"):
        value = getattr(f, key)
        if value:
            out[key] = [value]
    return out


def _image_summary(i: dict[str, Any]) -> ImageSummary:
    shared = i.get("SharedSize")
    containers = i.get("Containers")
    return ImageSummary(
        id=i["Id"],
        repo_tags=_tags(i.get("RepoTags"), NONE_TAG),
        repo_digests=_tags(i.get("RepoDigests"), NONE_DIGEST),
        created=_utc(i.get("Created")),
        size=int(i.get("Size") or 0),
        shared_size=shared if isinstance(shared, int) and shared >= 0 else None,
        containers=containers if isinstance(containers, int) and containers >= 0 else None,
        parent_id=i.get("ParentId") or "",
        labels=dict(i.get("Labels") or {}),
    )


def _image_detail(raw: dict[str, Any]) -> ImageDetail:
    return ImageDetail(
        id=raw["Id"],
        repo_tags=_tags(raw.get("RepoTags"), NONE_TAG),
        repo_digests=_tags(raw.get("RepoDigests"), NONE_DIGEST),
        created=_parse_time(raw.get("Created")) or EPOCH,
        size=int(raw.get("Size") or 0),
        architecture=raw.get("Architecture") or "",
        os=raw.get("Os") or "",
        variant=raw.get("Variant") or "",
        config=image_config(raw.get("Config")),
        layers=tuple((raw.get("RootFS") or {}).get("Layers") or ()),
        parent_id=raw.get("Parent") or "",
        comment=raw.get("Comment") or "",
        author=raw.get("Author") or "",
        docker_version=raw.get("DockerVersion") or "",
        raw=raw,
    )


def _remove_result(rows: Sequence[dict[str, str]]) -> RemoveResult:
    untagged, deleted, lines = [], [], []
    for row in rows:
        if row.get("Untagged"):
            untagged.append(row["Untagged"])
            lines.append(f"Untagged: {row['Untagged']}")
        if row.get("Deleted"):
            deleted.append(row["Deleted"])
            lines.append(f"Deleted: {row['Deleted']}")
    return RemoveResult(tuple(untagged), tuple(deleted), tuple(lines))


def _image_prune_report(res: dict[str, Any]) -> PruneReport:
    removed = _remove_result(res.get("ImagesDeleted") or ())
    return PruneReport(
        untagged=removed.untagged,
        deleted_images=removed.deleted,
        space_reclaimed=int(res.get("SpaceReclaimed") or 0),
    )


# Statuses whose byte counts are a transfer (extracting is measured too: it is what takes long).
_TRANSFERS = ("Downloading", "Pushing", "Extracting")


def _progress(chunk: dict[str, Any], rates: Rates | None = None) -> ProgressEvent:
    """A daemon progress message as an event; `rates` measures each layer's speed."""
    status = str(chunk.get("status") or "")
    layer = chunk.get("id")
    detail = chunk.get("progressDetail") or {}
    if (
        layer
        and status not in ("", "Pulling from " + str(layer))
        and not status.startswith(("Pulling from", "Digest:", "Status:"))
    ):
        current = detail.get("current")
        rate = None
        if rates is not None and isinstance(current, int) and status in _TRANSFERS:
            rate = rates.update(f"{layer} {status}", current)
        return LayerProgress(
            layer=str(layer),
            status=status,
            current=current,
            total=detail.get("total"),
            rate=rate,
        )
    if layer and status.startswith("Pulling from"):
        return StatusLine(f"{layer}: {status}")
    return StatusLine(status or str(chunk.get("stream") or "").rstrip("\n"))
