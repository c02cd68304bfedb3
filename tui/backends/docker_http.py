"""A lean stdlib HTTP transport for the Docker API's read-only JSON calls.

Importing the docker SDK costs about 0.2 s (requests, urllib3), more than `docker images` takes to
list 1,000 tags. Plain GETs on a local unix socket or a plain tcp:// host therefore go through
http.client; everything else (TLS, ssh://, streams, writes) goes through the SDK.
"""

from __future__ import annotations

import http.client
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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class LeanDockerClient:
    """GET-only JSON client; `supports(url)` tells whether it can serve that daemon URL."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    @staticmethod
    def supports(base_url: str, tls: bool) -> bool:
        return not tls and base_url.startswith(("unix://", "tcp://", "http://"))

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            url = self._base_url
            if url.startswith("unix://"):
                self._conn = _UnixConnection(url[len("unix://") :], self._timeout)
            else:
                parts = urlsplit(url.replace("tcp://", "http://", 1))
                self._conn = http.client.HTTPConnection(
                    parts.hostname or "localhost", parts.port or 2375, timeout=self._timeout
                )
        return self._conn

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` and decode the JSON answer; raises OSError when the daemon is unreachable."""
        query = ""
        if params:
            query = "?" + urlencode(
                {k: v for k, v in params.items() if v is not None}, doseq=True, quote_via=quote
            )
        conn = self._connect()
        try:
            conn.request("GET", path + query, headers={"Host": "docker"})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace").strip()
            raise DockerHTTPError(resp.status, message or f"HTTP {resp.status}")
        return json.loads(body) if body else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
