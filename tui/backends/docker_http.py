"""A lean stdlib transport for the Docker API's read-only JSON calls.

Importing the docker SDK costs about 0.2 s (requests, urllib3), and even http.client pulls in the
email package and ssl (35 ms) — more than `docker images` takes to list 1,000 tags. Plain GETs on a
unix socket or a plain tcp:// host therefore speak HTTP/1.0 over a bare socket: the daemon answers
with the whole body and closes, so there is no chunking or keep-alive to handle. Everything else
(TLS, streams, writes) goes through the SDK.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


class DockerHTTPError(Exception):
    """The daemon answered with an error status; `message` is its own text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ProtocolError(OSError):
    """The answer was not HTTP: something other than a Docker daemon is listening there."""


class LeanDockerClient:
    """GET-only JSON client; `supports(url)` tells whether it can serve that daemon URL."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base_url = base_url
        self._timeout = timeout

    @staticmethod
    def supports(base_url: str, tls: bool) -> bool:
        return not tls and base_url.startswith(("unix://", "tcp://", "http://"))

    def _connect(self) -> socket.socket:
        url = self._base_url
        if url.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(url[len("unix://") :])
            except OSError:
                sock.close()
                raise
            return sock
        parts = urlsplit(url.replace("tcp://", "http://", 1))
        return socket.create_connection(
            (parts.hostname or "localhost", parts.port or 2375), timeout=self._timeout
        )

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` and decode the JSON answer; raises OSError when the daemon is unreachable."""
        query = ""
        if params:
            wanted = {k: v for k, v in params.items() if v is not None}
            if wanted:
                query = "?" + urlencode(wanted, doseq=True, quote_via=quote)
        request = f"GET {path}{query} HTTP/1.0\r\nHost: docker\r\nUser-Agent: imgtui\r\n\r\n"
        with self._connect() as sock:
            sock.sendall(request.encode())
            chunks = []
            while data := sock.recv(1 << 16):
                chunks.append(data)
        status, headers, body = _parse_response(b"".join(chunks))
        if "chunked" in headers.get("transfer-encoding", ""):
            body = _dechunk(body)
        if status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace").strip()
            raise DockerHTTPError(status, message or f"HTTP {status}")
        if not body:
            return None
        if "json" not in headers.get("content-type", "json"):
            return body.decode(errors="replace")
        return json.loads(body)

    def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""


def _parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError("the answer is not HTTP (is that a Docker daemon?)")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip().lower()
    return int(parts[1]), headers, body


def _dechunk(body: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise ProtocolError("truncated chunked answer")
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
