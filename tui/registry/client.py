"""HTTP for one registry: TLS per docker's rules, auth challenges, retries, typed errors.

Docker's rules, followed here so a registry that works with `docker pull` works with imgtui:

* HTTPS, verified against the system CAs plus `certs.d/HOST[:PORT]/*.crt` (client certificates
  `*.cert` + `*.key` beside them) from `$IMGTUI_CERTS_D` when set (tests), else
  `$DOCKER_CONFIG/certs.d` and `/etc/docker/certs.d`.
* Plain HTTP only for loopback hosts (localhost, 127.0.0.0/8, ::1) and the hosts listed in
  `$IMGTUI_INSECURE_REGISTRIES` (comma separated): those try HTTPS first and fall back to HTTP
  when the server does not speak TLS. Loopback still verifies a certificate it is offered; a host
  named insecure does not.
* Auth follows the `WWW-Authenticate` challenge: Basic with stored credentials, or a Bearer token
  fetched from the realm for the request's scope, cached per scope.

Transient failures (5xx, 429, dropped connections, timeouts) are retried with backoff; a request
whose body cannot be replayed is not.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from imgtui import reference
from imgtui.backends.base import AuthError, ImageNotFound, RegistryError
from imgtui.registry import auth
from imgtui.store import oci

HUB_API = "registry-1.docker.io"
TIMEOUT_ENV = "IMGTUI_REGISTRY_TIMEOUT"
INSECURE_ENV = "IMGTUI_INSECURE_REGISTRIES"
CERTS_ENV = "IMGTUI_CERTS_D"
SYSTEM_CERTS_D = Path("/etc/docker/certs.d")
DEFAULT_TIMEOUT = 30.0
RETRY_STATUS = (429, 500, 502, 503, 504)
MANIFEST_ACCEPT = ", ".join(
    (oci.OCI_INDEX, oci.DOCKER_MANIFEST_LIST, oci.OCI_MANIFEST, oci.DOCKER_MANIFEST)
)
USER_AGENT = "imgtui"

Body = bytes | Callable[[], IO[bytes]] | None


def api_host(domain: str) -> str:
    """Where a reference's domain is served: Docker Hub names go to registry-1.docker.io."""
    return HUB_API if domain in auth.HUB_DOMAINS else domain


def split_host(host: str) -> tuple[str, int | None]:
    """("127.0.0.1", 5000) from "127.0.0.1:5000"; brackets of IPv6 literals removed."""
    parsed = urllib.parse.urlsplit("//" + host)
    try:
        port = parsed.port
    except ValueError:
        raise RegistryError(f"invalid registry host {host!r}") from None
    return parsed.hostname or host, port


def is_loopback(host: str) -> bool:
    name, _ = split_host(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def insecure_hosts() -> set[str]:
    return {h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()}


def certs_dirs(host: str) -> list[Path]:
    """Where docker would look for this registry's CA and client certificates."""
    override = os.environ.get(CERTS_ENV)
    if override:
        return [Path(override) / host]
    return [auth.config_dir() / "certs.d" / host, SYSTEM_CERTS_D / host]


def ssl_context(host: str, *, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for d in certs_dirs(host):
        if not d.is_dir():
            continue
        for ca in sorted(d.glob("*.crt")):
            try:
                ctx.load_verify_locations(cafile=str(ca))
            except (OSError, ssl.SSLError) as e:
                raise RegistryError(f"{ca}: not a usable CA certificate ({e})") from None
        for cert in sorted(d.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.exists():
                raise RegistryError(f"{cert}: client certificate without {key.name}")
            ctx.load_cert_chain(str(cert), str(key))
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def timeout_default() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


@dataclass
class Response:
    """One answer; read it whole (`read`) or stream it (`readinto`), then `close`."""

    status: int
    headers: http.client.HTTPMessage
    raw: http.client.HTTPResponse
    url: str
    _release: Callable[[bool], None] = field(repr=False)

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""

    def read(self, limit: int = oci.MAX_JSON_BLOB) -> bytes:
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            self.close()
            raise RegistryError(f"{self.url}: answer larger than {limit} bytes")
        self.close()
        return data

    def readinto(self, buf: memoryview) -> int:
        return self.raw.readinto(buf)

    def close(self) -> None:
        # a HEAD or empty answer leaves nothing unread: the connection can serve the next request
        done = self.raw.isclosed() or self.raw.length == 0
        with contextlib.suppress(Exception):
            self.raw.close()
        self._release(done)


class _Pool(threading.local):
    def __init__(self) -> None:
        self.conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}


class RegistryClient:
    """One registry host. Thread-safe: connections are per thread, tokens shared under a lock."""

    def __init__(
        self,
        domain: str,
        *,
        timeout: float | None = None,
        attempts: int = 4,
        backoff: float = 0.25,
        credentials: auth.Credentials | None = None,
    ) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.timeout = timeout if timeout is not None else timeout_default()
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.insecure = self.host in insecure_hosts() or domain in insecure_hosts()
        self.plain_ok = self.insecure or is_loopback(self.host)
        self._scheme: str | None = None if self.plain_ok else "https"
        self._ctx: ssl.SSLContext | None = None
        self._pool = _Pool()
        self._lock = threading.Lock()
        self._creds = credentials
        self._creds_loaded = credentials is not None
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ plumbing

    def credentials(self) -> auth.Credentials | None:
        if not self._creds_loaded:
            self._creds = auth.lookup(self.domain)
            self._creds_loaded = True
        return self._creds

    def _context(self) -> ssl.SSLContext:
        if self._ctx is None:
            self._ctx = ssl_context(self.host, verify=not self.insecure)
        return self._ctx

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if self._scheme is None:
            self._probe_scheme()
        return f"{self._scheme}://{self.host}{path}"

    def _probe_scheme(self) -> None:
        """HTTPS if the server speaks it, else HTTP (only ever asked for loopback/insecure)."""
        name, port = split_host(self.host)
        try:
            with socket.create_connection((name, port or 443), timeout=self.timeout) as sock:
                # only "does it speak TLS?": the real connection verifies as configured
                probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                probe.check_hostname = False
                probe.verify_mode = ssl.CERT_NONE
                with probe.wrap_socket(sock, server_hostname=name):
                    self._scheme = "https"
                    return
        except ssl.SSLError:
            self._scheme = "http"
        except OSError as e:
            if port is None:
                # nothing on 443: a loopback name without port means plain HTTP on 80
                self._scheme = "http"
                return
            raise RegistryError(f"cannot reach registry {self.domain}: {_reason(e)}") from None

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        name, port = split_host(netloc)
        key = (scheme, name, port or (443 if scheme == "https" else 80))
        conn = self._pool.conns.get(key)
        if conn is None:
            if scheme == "https":
                ctx = self._context() if netloc == self.host else ssl.create_default_context()
                conn = http.client.HTTPSConnection(
                    name, port, timeout=self.timeout, context=ctx, blocksize=1 << 20
                )
            else:
                conn = http.client.HTTPConnection(
                    name, port, timeout=self.timeout, blocksize=1 << 20
                )
            self._pool.conns[key] = conn
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        for k, v in list(self._pool.conns.items()):
            if v is conn:
                del self._pool.conns[k]

    def _send(self, method: str, url: str, headers: dict[str, str], body: Body) -> Response:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        data: Any = body() if callable(body) else body
        try:
            conn.request(method, target, body=data, headers={"User-Agent": USER_AGENT, **headers})
            raw = conn.getresponse()
        except BaseException:
            self._drop(conn)
            raise
        finally:
            if data is not None and not isinstance(data, bytes):
                data.close()

        def release(done: bool) -> None:
            if not done or raw.will_close:
                self._drop(conn)

        return Response(raw.status, raw.headers, raw, url, release)

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        body: Body = None,
        what: str = "",
        retry: bool = True,
    ) -> Response:
        """Send with auth and retries; the caller judges the final status (see `fail`)."""
        url = self.url(path)
        what = what or f"{method} {urllib.parse.urlsplit(url).path}"
        headers = dict(headers or {})
        authed = False
        redirects = 0
        attempt = 0
        while True:
            attempt += 1
            send = dict(headers)
            same_host = urllib.parse.urlsplit(url).netloc == self.host
            if same_host:
                send.update(self._auth_header(scope))
            try:
                resp = self._send(method, url, send, body)
            except ssl.SSLCertVerificationError as e:
                raise RegistryError(
                    f"registry {self.domain}: TLS certificate not trusted ({e.verify_message}); "
                    f"put its CA in certs.d/{self.host}/ca.crt"
                ) from None
            except ssl.SSLError as e:
                raise RegistryError(f"registry {self.domain}: TLS failed ({e.reason})") from None
            except ConnectionRefusedError as e:
                raise RegistryError(f"cannot reach registry {self.domain}: {_reason(e)}") from None
            except (OSError, http.client.HTTPException) as e:
                if attempt >= self.attempts or not retry:
                    raise RegistryError(
                        f"registry {self.domain}: {what}: {_reason(e)}"
                        f" (after {attempt} attempt{'s' if attempt > 1 else ''})"
                    ) from None
                self._sleep(attempt)
                continue
            if resp.status == 401 and same_host and not authed:
                challenge = resp.header("WWW-Authenticate")
                resp.close()
                if not challenge:
                    raise AuthError(f"registry {self.domain}: {what}: unauthorized, no challenge")
                self._accept_challenge(challenge, scope)
                authed = True
                attempt -= 1  # the challenge round trip is not a failure
                continue
            if resp.status == 401 and same_host:
                _, params = parse_challenge(resp.header("WWW-Authenticate"))
                resp.close()
                if params.get("error") == "insufficient_scope":
                    why = "access denied (insufficient scope)"
                elif self.credentials() is not None:
                    why = "bad credentials"
                else:
                    why = f"authentication required (run imgtui login {self.domain})"
                raise AuthError(f"registry {self.domain}: {what}: unauthorized: {why}")
            if resp.status in RETRY_STATUS and retry and attempt < self.attempts:
                resp.close()
                self._sleep(attempt, resp.header("Retry-After"))
                continue
            if resp.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                location = resp.header("Location")
                resp.close()
                redirects += 1
                if not location or redirects > 5:
                    raise RegistryError(f"registry {self.domain}: {what}: too many redirects")
                url = urllib.parse.urljoin(url, location)
                continue
            return resp

    def _sleep(self, attempt: int, retry_after: str = "") -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        with contextlib.suppress(ValueError):
            delay = max(delay, min(float(retry_after), 10.0))
        time.sleep(delay)

    # ------------------------------------------------------------------ auth

    def _auth_header(self, scope: str) -> dict[str, str]:
        with self._lock:
            challenge = self._challenge
            token = self._tokens.get(scope)
        if challenge is None:
            return {}
        scheme, params = challenge
        if scheme == "basic":
            creds = self.credentials()
            return {"Authorization": _basic(creds)} if creds else {}
        if token is None:
            token = self._fetch_token(params, scope)
        return {"Authorization": f"Bearer {token}"}

    def _accept_challenge(self, header: str, scope: str) -> None:
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if self.credentials() is None:
                raise AuthError(
                    f"registry {self.domain}: authentication required "
                    f"(run imgtui login {self.domain})"
                )
            with self._lock:
                # another thread may have got here first; wrong credentials show on the retry
                self._challenge = (scheme, params)
            return
        if scheme == "bearer":
            with self._lock:
                self._challenge = (scheme, params)
                self._tokens.pop(scope, None)
            self._fetch_token(params, scope)
            return
        raise AuthError(f"registry {self.domain}: unsupported auth scheme {scheme!r}")

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise AuthError(f"registry {self.domain}: bearer challenge without a realm")
        query = []
        if params.get("service"):
            query.append(("service", params["service"]))
        for s in scope.split():
            query.append(("scope", s))
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {}
        creds = self.credentials()
        if creds is not None:
            headers["Authorization"] = _basic(creds)
        try:
            resp = self._send("GET", url, headers, None)
        except (OSError, http.client.HTTPException) as e:
            raise AuthError(
                f"registry {self.domain}: token service {realm} failed: {_reason(e)}"
            ) from None
        data = resp.read(1 << 20)
        if resp.status in (401, 403):
            why = "bad credentials" if creds else "credentials required"
            raise AuthError(f"registry {self.domain}: unauthorized: {why} (token service {realm})")
        if resp.status != 200:
            raise AuthError(f"registry {self.domain}: token service {realm}: HTTP {resp.status}")
        try:
            obj = json.loads(data)
            token = obj.get("token") or obj.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"registry {self.domain}: token service {realm} gave no token")
        with self._lock:
            self._tokens[scope] = token
        return token

    # ------------------------------------------------------------------ API

    def fail(self, resp: Response, what: str) -> Exception:
        """The exception for an unexpected answer, from the registry's own error codes."""
        try:
            body = resp.read(1 << 16) if resp.raw.fp else b""
        except Exception:
            body = b""
        codes: list[str] = []
        messages: list[str] = []
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            for err in json.loads(body).get("errors") or ():
                codes.append(str(err.get("code", "")))
                messages.append(str(err.get("message", "")).strip())
        detail = "; ".join(m for m in messages if m) or f"HTTP {resp.status}"
        if resp.status == 404 or any(c.endswith("_UNKNOWN") for c in codes):
            return ImageNotFound(f"{what} not found: {detail}")
        if resp.status in (401, 403) or "DENIED" in codes or "UNAUTHORIZED" in codes:
            return AuthError(f"registry {self.domain}: {what}: {detail}")
        return RegistryError(f"registry {self.domain}: {what}: {detail}")

    def ping(self) -> None:
        """GET /v2/, answering any challenge: proves the host is a registry we may use."""
        resp = self.request("GET", "/v2/", scope="")
        if resp.status != 200:
            raise self.fail(resp, "/v2/")
        resp.close()

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index; the digest is checked."""
        what = (
            f"manifest for {self.domain}/{repo}:{ref}"
            if ":" not in ref
            else (f"manifest for {self.domain}/{repo}@{ref}")
        )
        resp, data = self.get_whole(
            f"/v2/{repo}/manifests/{ref}",
            scope=pull_scope(repo),
            headers={"Accept": MANIFEST_ACCEPT},
            what=what,
        )
        media_type = resp.header("Content-Type").split(";")[0].strip()
        served = resp.header("Docker-Content-Digest")
        digest = oci_digest(data)
        expected = ref if ref.startswith("sha256:") else (served or digest)
        if digest != expected:
            raise RegistryError(
                f"registry {self.domain}: {what}: content has digest {digest}, not {expected}"
            )
        with contextlib.suppress(oci.FormatError):
            obj = oci.parse_json(data, what)
            media_type = obj.get("mediaType") or media_type
        return data, media_type, digest

    def get_whole(
        self, path: str, *, scope: str, what: str, headers: dict[str, str] | None = None
    ) -> tuple[Response, bytes]:
        """A small document read whole; an answer cut short is asked for again."""
        attempt = 0
        while True:
            attempt += 1
            resp = self.request("GET", path, scope=scope, headers=headers, what=what)
            if resp.status != 200:
                raise self.fail(resp, what)
            expected = resp.header("Content-Length")
            try:
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                data, reason = b"", _reason(e)
            else:
                reason = "connection closed before the whole answer arrived"
            if not expected or len(data) == int(expected):
                return resp, data
            if attempt >= self.attempts:
                raise RegistryError(
                    f"registry {self.domain}: {what}: {reason} (after {attempt} attempts)"
                )
            self._sleep(attempt)

    def head_manifest(self, repo: str, ref: str) -> tuple[str, str, int] | None:
        """(digest, media type, size) of a manifest, or None when the registry has none."""
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            scope=pull_scope(repo),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        resp.close()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise self.fail(resp, f"manifest {self.domain}/{repo}:{ref}")
        return (
            resp.header("Docker-Content-Digest"),
            resp.header("Content-Type").split(";")[0].strip(),
            int(resp.header("Content-Length") or 0),
        )

    def blob_exists(self, repo: str, digest: str, scope: str | None = None) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope or pull_scope(repo))
        resp.close()
        if resp.status == 200:
            return True
        if resp.status == 404:
            return False
        raise self.fail(resp, f"blob {digest} in {self.domain}/{repo}")

    def get_json_blob(self, repo: str, digest: str) -> bytes:
        """A small blob (config), read whole and checked against its digest."""
        what = f"blob {digest} of {self.domain}/{repo}"
        _, data = self.get_whole(f"/v2/{repo}/blobs/{digest}", scope=pull_scope(repo), what=what)
        if oci_digest(data) != digest:
            raise RegistryError(
                f"registry {self.domain}: {what}: content has digest {oci_digest(data)}"
            )
        return data

    def paginate(self, path: str, key: str, scope: str) -> Iterator[str]:
        """Every item of a paginated list (catalog, tags), following `Link: <…>; rel="next"`."""
        url: str | None = path
        seen: set[str] = set()
        while url:
            if url in seen:
                raise RegistryError(f"registry {self.domain}: {path}: pagination loops")
            seen.add(url)
            resp = self.request("GET", url, scope=scope, what=path)
            if resp.status != 200:
                raise self.fail(resp, f"{self.domain}{path.split('?')[0]}")
            link = resp.header("Link")
            try:
                obj = json.loads(resp.read())
                items = obj.get(key) or []
            except (ValueError, AttributeError):
                raise RegistryError(f"registry {self.domain}: {path}: not a JSON list") from None
            if not isinstance(items, list):
                raise RegistryError(f"registry {self.domain}: {path}: {key} is not a list")
            yield from (str(i) for i in items)
            url = _next_link(link)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer', {'realm': …, 'service': …, 'scope': …}) from a WWW-Authenticate value."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    for k, v in re.findall(r"(\w+)=([^\",\s]+)", rest):
        params.setdefault(k.lower(), v)
    return scheme.lower(), params


def _next_link(link: str) -> str | None:
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link or "")
    return m.group(1) if m else None


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str, *sources: str) -> str:
    return " ".join([f"repository:{repo}:pull,push", *(pull_scope(s) for s in sources)])


def oci_digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _basic(creds: auth.Credentials | None) -> str:
    assert creds is not None
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _reason(e: BaseException) -> str:
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(e, http.client.IncompleteRead):
        return "connection closed before the whole answer arrived"
    if isinstance(e, http.client.RemoteDisconnected):
        return "connection closed by the registry"
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def repository_of(ref: reference.Reference) -> tuple[str, str]:
    """(domain, repository path) of a parsed reference; refuses names without a registry."""
    if not ref.domain:
        raise RegistryError(f"{ref}: no registry in this reference")
    return ref.domain, ref.path
