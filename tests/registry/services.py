"""Registry variants and helpers for the registry-client tests, all on 127.0.0.1.

* `Registry`: a Distribution registry with its own config (htpasswd basic auth, token auth, TLS).
* `TokenIssuer`: a loopback token service that signs real RS256 JWTs (openssl CLI) carrying the
  certificate in `x5c`, which the registry checks against its `rootcertbundle`.
* `FaultProxy`: a loopback HTTP proxy in front of a registry that corrupts, truncates, fails or
  delays chosen answers, and logs every request.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests import services as svc

TOKEN_SERVICE = "imgtui-test-registry"
TOKEN_ISSUER = "imgtui-test-issuer"


def openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("openssl is not installed")
    subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_server_cert(d: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key): a self-signed CA and a cert for IP 127.0.0.1 it signed."""
    d.mkdir(parents=True, exist_ok=True)
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=imgtui-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=keyCertSign,cRLSign",
        cwd=d,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=d,
    )
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        cwd=d,
    )
    return d / "ca.crt", d / "server.crt", d / "server.key"


@dataclass
class Registry:
    """One Distribution registry process on 127.0.0.1 with a config of our own."""

    root: Path
    extra: str = ""  # YAML appended to the config (auth:, …)
    tls: tuple[Path, Path] | None = None  # (cert, key)
    host: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Registry:
        exe = shutil.which("docker-registry") or shutil.which("registry")
        if exe is None:
            raise RuntimeError("the Distribution registry is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        port = svc._free_port()
        config = svc.REGISTRY_CONFIG.format(root=self.root / "data", port=port)
        if self.tls:
            config += f"  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}\n"
        config += self.extra
        (self.root / "config.yml").write_text(config)
        log = self.root / "log"
        self.proc = subprocess.Popen(
            [exe, "serve", str(self.root / "config.yml")],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        svc._wait(lambda: _listening(port), 30, "registry", log)
        self.host = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TokenIssuer:
    """GET /token?service=&scope=… with Basic auth -> {"token": JWT} granting what was asked."""

    def __init__(self, root: Path, users: dict[str, str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=imgtui-token-signer",
            cwd=root,
        )
        self.root = root
        self.cert = root / "cert.pem"
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users = users
        self.requests: list[dict[str, str]] = []
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                issuer.answer(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, h: http.server.BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        user = ""
        header = h.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(user) != password:
                self.reply(h, 401, {"details": "bad credentials"})
                return
        elif not header:
            self.reply(h, 401, {"details": "credentials required"})
            return
        self.requests.append({"user": user, "scope": " ".join(query.get("scope", []))})
        access = []
        for scope in query.get("scope", []):
            for one in scope.split():
                kind, _, rest = one.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": user,
            "aud": query.get("service", [""])[0],
            "exp": now + 600,
            "nbf": now - 30,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        self.reply(h, 200, {"token": self.sign(claims)})

    def sign(self, claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.root / "key.pem")],
            input=signing.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing}.{_b64(sig)}"

    @staticmethod
    def reply(h: http.server.BaseHTTPRequestHandler, status: int, obj: object) -> None:
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def config(self) -> str:
        return (
            "auth:\n  token:\n"
            f"    realm: {self.realm}\n    service: {TOKEN_SERVICE}\n"
            f"    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {self.cert}\n"
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Fault:
    """Do `action` to the next `times` requests whose "METHOD path" matches `pattern`."""

    pattern: str
    action: str  # corrupt | truncate | status500 | unauthorized | slow | drop | trickle
    times: int = 1
    delay: float = 0.0


@dataclass
class FaultProxy:
    """Forwards to `upstream`; faults are armed per test with `arm` and cleared with `clear`."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range)
    host: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def arm(self, *faults: Fault) -> None:
        with self._lock:
            self.faults = list(faults)
            self.log.clear()

    def clear(self) -> None:
        self.arm()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and re.search(f.pattern, f"{method} {path}"):
                    f.times -= 1
                    return f
        return None

    def forward(self, h: http.server.BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        with self._lock:
            self.log.append((method, path, h.headers.get("Range", "")))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        fault = self._take(method, path)
        if fault is not None and fault.action == "status500":
            data = b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}'
            h.send_response(500)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if fault is not None and fault.action == "unauthorized":
            data = b'{"errors":[{"code":"UNAUTHORIZED","message":"injected: bad credentials"}]}'
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Basic realm="imgtui-fault-proxy"')
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if fault is not None and fault.action == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.action == "drop":
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        name, _, port = self.upstream.partition(":")
        conn = http.client.HTTPConnection(name, int(port), timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("connection",)}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if fault is not None and fault.action == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                h.send_header(k, v)
        h.send_header(
            "Content-Length",
            resp.getheader("Content-Length", "0") if method == "HEAD" else str(len(data)),
        )
        if fault is not None and fault.action == "truncate":
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.end_headers()
        if method == "HEAD":
            return
        if fault is not None and fault.action == "trickle":
            for i in range(0, len(data), 64 << 10):
                h.wfile.write(data[i : i + (64 << 10)])
                h.wfile.flush()
                time.sleep(fault.delay)
            return
        h.wfile.write(data)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
