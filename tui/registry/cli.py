"""The `registry ls`, `login` and `logout` verbs; imgtui.cli imports this only when they run."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from imgtui import fmt
from imgtui.backends.base import AuthError, InvalidArgument
from imgtui.registry import auth, browse
from imgtui.registry.client import RegistryClient, split_host

DEFAULT_SERVER = "docker.io"


def registry(args: argparse.Namespace) -> int:
    if getattr(args, "registry_command", None) != "ls":
        raise InvalidArgument("imgtui registry: a command is required (ls)")
    host, repo = browse.parse_target(args.target)
    if repo is None:
        listing = browse.repositories(host, page_size=args.page_size)
        if args.format == "json":
            for name in listing.repositories:
                print(browse.dumps({"Registry": host, "Repository": name}))
        else:
            _table(["REPOSITORY"], [[f"{host}/{r}"] for r in listing.repositories])
        return 0
    rows = browse.tags(host, repo, page_size=args.page_size, platform=args.platform)
    if args.format == "json":
        for row in rows:
            print(browse.dumps(row.to_json()))
        return 0
    now = datetime.now(timezone.utc)
    _table(
        ["REPOSITORY", "TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED"],
        [
            [
                row.repository,
                row.tag,
                row.digest if args.no_trunc else row.digest[:19],
                fmt.human_size(row.size),
                ",".join(row.platforms),
                fmt.time_ago(row.created, now) if row.created else "",
            ]
            for row in rows
        ],
    )
    return 0


def login(args: argparse.Namespace) -> int:
    server = _server(args.server)
    username = args.username
    if args.password_stdin:
        if args.password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = args.password
    if not username:
        if not sys.stdin.isatty():
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
        username = input("Username: ").strip()
    if not password:
        if not sys.stdin.isatty():
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidArgument("Username and password are required")
    creds = auth.Credentials(username, password)
    client = RegistryClient(server, credentials=creds)
    try:
        client.ping()
    except AuthError as e:
        raise AuthError(f"login to {server} failed: {e}") from None
    where = auth.store(server, creds)
    if where == str(auth.config_path()):
        print(f"WARNING! Your password will be stored unencrypted in {where}.", file=sys.stderr)
    print("Login Succeeded")
    return 0


def logout(args: argparse.Namespace) -> int:
    server = _server(args.server)
    shown = auth.server_key(server)
    if auth.erase(server):
        print(f"Removing login credentials for {shown}")
    else:
        print(f"Not logged in to {shown}")
    return 0


def _table(headers: list[str], rows: list[list[str]]) -> None:
    sys.stdout.write(fmt.table(headers, rows).rstrip("\n") + "\n")


def _server(text: str | None) -> str:
    """A registry host from what docker login takes: host[:port], maybe as a URL."""
    if not text:
        return DEFAULT_SERVER
    host = text.removeprefix("https://").removeprefix("http://").split("/")[0]
    if not host:
        raise InvalidArgument(f"invalid registry {text!r}")
    split_host(host)
    if host in auth.HUB_DOMAINS:
        return DEFAULT_SERVER
    return host
