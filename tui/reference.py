"""Image references parsed, normalized and matched exactly as docker does.

The grammar is the one of github.com/distribution/reference (v0.6, what the current `docker` CLI
vendors): a name is `[domain/]path`, optionally followed by `:tag` and `@digest`. Familiar names
("busybox", "org/app") are normalized to Docker Hub ("docker.io/library/busybox"). Error texts
are docker's, so users can search them.

Docker up to 24 (the suite's Engine 20.10 among them) vendors an older grammar, stricter in three
places: an uppercase first part is no domain ("FOO/bar"), IPv6 hosts are refused, and the
255-character limit counts the domain too; its lowercase error does not name the repository.
This module follows the current grammar; tests/reference_cases.py pins the differences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from imgtui.backends.base import InvalidArgument, InvalidReference

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "NAME_MAX",
    "Reference",
    "ReferenceError",
    "familiar",
    "familiar_match",
    "is_image_id",
    "normalize",
    "parse",
    "parse_docker_ref",
    "quote",
    "split_repo_tag",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255  # characters of the path (the domain does not count)

# Docker's error texts, word for word.
ERR_FORMAT = "invalid reference format"
ERR_UPPERCASE = "repository name must be lowercase"
ERR_TOO_LONG = f"repository name must not be more than {NAME_MAX} characters"
ERR_TAG = "invalid tag format"
ERR_DIGEST_FORMAT = "invalid checksum digest format"
ERR_DIGEST_LENGTH = "invalid checksum digest length"
ERR_DIGEST_ALGORITHM = "unsupported digest algorithm"
ERR_PATTERN = "syntax error in pattern"

# ------------------------------------------------------------------------------------ grammar
# Every class is spelled out in ASCII: Python's \w and \d would admit other scripts.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"  # one dot, one or two underscores, any run of dashes
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})")
_TAG_RE = re.compile(_TAG)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_IMAGE_ID_RE = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")
# go-digest's own, looser digest syntax: it decides "unsupported" versus "malformed".
_GO_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}  # hex length each engine accepts

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
_ESCAPES |= {"\v": r"\v", '"': r"\"", "\\": r"\\"}


def _escape(text: str) -> str:
    """Go's %q escaping without the quotes, so an error message always stays on one line."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def quote(text: str) -> str:
    """Quote like Go's %q, as docker quotes the input in its own messages."""
    return f'"{_escape(text)}"'


# Shadows the builtin weakref ReferenceError inside this module only; callers import it by name.
class ReferenceError(InvalidReference):
    """Docker refuses this reference; `reason` is docker's bare text, `text` the input."""

    def __init__(self, message: str, *, reason: str | None = None, text: str | None = None):
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.text = text


def _refuse(reason: str, text: str, *, message: str | None = None) -> ReferenceError:
    """Docker's reason, followed by the offending input quoted unless `message` says it all."""
    if message is None:
        message = f"{reason}: {quote(text)}"
    return ReferenceError(message, reason=reason, text=text)


# ------------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalized reference; str() is the fully-qualified form docker stores."""

    domain: str  # "docker.io", "localhost:5000"; "" only when the first part cannot be a host
    path: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None  # "sha256:<64 hex>"

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """The short name docker prints: no docker.io, no library/ for official images."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_PREFIX):
            rest = self.path[len(OFFICIAL_PREFIX) :]
            if "/" not in rest:
                return rest
        return self.path

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """Docker's FamiliarString: what `docker images` and RepoTags show."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """The same name (and digest) with `tag`, checked against docker's tag grammar."""
        if not _TAG_RE.fullmatch(tag):
            raise _refuse(ERR_TAG, tag)
        return replace(self, tag=tag)

    def with_default_tag(self) -> Reference:
        """Docker's TagNameOnly: a bare name means ":latest"; tags and digests stay as they are."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self


# ------------------------------------------------------------------------------------ parsing


def _split_docker_domain(text: str) -> tuple[str, str]:
    """Tell a registry host from a Hub namespace by docker's rule, and add Hub's defaults."""
    first, slash, rest = text.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + text
    if first == "localhost" or "." in first or ":" in first or first.lower() != first:
        # A dot or a port marks a host; so does an uppercase first part, as namespaces
        # are lowercase.
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, text
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _check_digest(digest: str, text: str) -> None:
    """Refuse digests the engine's go-digest refuses: unknown algorithm, wrong length, uppercase."""
    algorithm, _, encoded = digest.partition(":")
    size = _ALGORITHMS.get(algorithm)
    if size is None:
        if _GO_DIGEST_RE.fullmatch(digest):
            raise _refuse(ERR_DIGEST_ALGORITHM, text)
        raise _refuse(ERR_DIGEST_FORMAT, text)
    if len(encoded) != size:
        raise _refuse(ERR_DIGEST_LENGTH, text)
    if not _LOWER_HEX_RE.fullmatch(encoded):
        raise _refuse(ERR_DIGEST_FORMAT, text)


def parse(text: str) -> Reference:
    """Docker's ParseNormalizedNamed: Hub names get docker.io and library/; no tag is added."""
    if _IDENTIFIER_RE.fullmatch(text):
        reason = f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        raise _refuse(reason, text, message=reason)
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        reason = f"{ERR_FORMAT}: repository name ({{}}) must be lowercase"
        raise _refuse(reason.format(remote), text, message=reason.format(_escape(remote)))

    full = f"{domain}/{remainder}"
    match = _REFERENCE_RE.fullmatch(full)
    if match is None:
        # Go lowercases rune by rune: "\u0130" becomes "i" there, "i\u0307" in Python.
        lowered = full.replace("\u0130", "i").lower()
        if lowered != full and _REFERENCE_RE.fullmatch(lowered):
            raise _refuse(ERR_UPPERCASE, text)
        raise _refuse(ERR_FORMAT, text)
    name, tag, digest = match.groups()
    # Split again on its own: a first part like "ex_ample.com" is no valid host, so the
    # whole name is the path and the domain stays empty, as docker has it.
    parts = _NAME_RE.fullmatch(name)
    assert parts is not None  # the reference pattern contains the name pattern
    found_domain, path = parts.group(1) or "", parts.group(2)
    if len(path) > NAME_MAX:
        raise _refuse(ERR_TOO_LONG, text)
    if digest is not None:
        _check_digest(digest, text)
    return Reference(found_domain, path, tag, digest)


def parse_docker_ref(text: str) -> Reference:
    """What `docker pull` and `docker tag` act on: a bare name means ":latest"."""
    # Unlike Go's ParseDockerRef this keeps a tag given next to a digest, as the CLI does.
    return parse(text).with_default_tag()


def normalize(text: str) -> str:
    """The fully-qualified form: "busybox" -> "docker.io/library/busybox:latest"."""
    return str(parse_docker_ref(text))


def familiar(text: str) -> str:
    """The short form docker prints: "docker.io/library/busybox" -> "busybox:latest"."""
    return parse_docker_ref(text).familiar()


def is_image_id(text: str) -> bool:
    """Whether the engine could resolve `text` as an image id (or a prefix of one)."""
    # The engine takes any unambiguous prefix, "sha256:" or not. A short hex string like
    # "cafe" is a valid repository name too: docker looks names up first, so should callers.
    return _IMAGE_ID_RE.fullmatch(text) is not None


def split_repo_tag(text: str) -> tuple[str, str | None]:
    """Split off the tag for APIs that take repository and tag apart, as the docker SDK does."""
    # Port-aware and lossless, but no validation: "host:5000/a:b" -> ("host:5000/a", "b"),
    # "host:5000/a" -> ("host:5000/a", None). A digest takes the tag's place, as the engine's
    # `tag` parameters accept one: "a@sha256:…" -> ("a", "sha256:…"). The engine judges the
    # repository part on its own, so prefer parse_docker_ref(text).name and .tag when sending.
    repo, at, digest = text.rpartition("@")
    if at:
        return repo, digest
    repo, colon, tag = text.rpartition(":")
    if colon and "/" not in tag:
        return repo, tag
    return text, None


# ------------------------------------------------------------------------------------ matching
# Go's path.Match, step by step: its results differ from a regular expression's when a
# character class matches "/", and docker filters with it.


class _BadPattern(Exception):
    pass


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Leading stars, then the text up to the next star outside brackets, then the rest."""
    stripped = pattern.lstrip("*")
    star = len(stripped) != len(pattern)
    in_range = False
    i = 0
    while i < len(stripped):
        ch = stripped[i]
        if ch == "\\":
            if i + 1 < len(stripped):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, stripped[:i], stripped[i:]


def _class_char(chunk: str, i: int) -> tuple[str, int]:
    """One possibly escaped character of a bracket expression, which must not end there."""
    if i >= len(chunk) or chunk[i] in "-]":
        raise _BadPattern
    if chunk[i] == "\\":
        i += 1
        if i >= len(chunk):
            raise _BadPattern
    if i + 1 >= len(chunk):
        raise _BadPattern
    return chunk[i], i + 1


def _match_chunk(chunk: str, name: str) -> str | None:
    """Match a star-free chunk at the start of `name`; the rest of `name`, or None."""
    # Like Go it reads the whole chunk even after a mismatch, so a bad pattern always raises.
    failed = False
    i = 0
    while i < len(chunk):
        if not failed and not name:
            failed = True
        ch = chunk[i]
        if ch == "[":
            current = ""
            if not failed:
                current, name = name[0], name[1:]
            i += 1
            negated = i < len(chunk) and chunk[i] == "^"
            if negated:
                i += 1
            matched = False
            ranges = 0
            while True:
                if i < len(chunk) and chunk[i] == "]" and ranges:
                    i += 1
                    break
                low, i = _class_char(chunk, i)
                high = low
                if chunk[i] == "-":
                    high, i = _class_char(chunk, i + 1)
                if low <= current <= high:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
            continue
        if ch == "?":
            if not failed:
                if name[0] == "/":
                    failed = True
                name = name[1:]
            i += 1
            continue
        if ch == "\\":
            i += 1
            if i >= len(chunk):
                raise _BadPattern
        if not failed:
            if chunk[i] != name[0]:
                failed = True
            name = name[1:]
        i += 1
    return None if failed else name


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: "*" and "?" never match "/"; raises _BadPattern when malformed."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            advanced = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest = _match_chunk(chunk, name[i + 1 :])
                i += 1
                if rest is not None:
                    if not pattern and rest:
                        continue
                    name = rest
                    advanced = True
                    break
            if advanced:
                continue
        while pattern:  # no match: still refuse a malformed remainder, as Go does
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def familiar_match(pattern: str, ref: str) -> bool:
    """Docker's FamiliarMatch: REPO[:TAG] arguments and reference filters select as docker's do."""
    # The pattern meets the familiar string ("busybox:latest"), then the familiar name
    # ("busybox"); a malformed pattern raises InvalidArgument with Go's message.
    parsed = parse(ref)
    try:
        return _path_match(pattern, parsed.familiar()) or _path_match(pattern, parsed.familiar_name)
    except _BadPattern:
        raise InvalidArgument(f"{ERR_PATTERN}: {quote(pattern)}") from None
