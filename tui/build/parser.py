"""Dockerfile parser with docker's semantics, for the daemonless builder.

Two passes, as docker's: the *line* pass (parser directives, comments, line continuations, the
split into instruction, flags and arguments, JSON versus shell form) and the *instruction* pass
(argument counts, flags, stage names, HEALTHCHECK and ONBUILD rules). Every error is a
DockerfileError `Dockerfile:N: reason` with docker's reason; line-pass errors win over
instruction-pass ones, as in docker. Nothing here expands variables: words keep their quotes and
`$` so the builder expands them (imgtui.build.shell.expand) with its running ENV/ARG state, and
ADD/COPY/ENV/… see exactly the text docker's dispatcher would.

Supported: the `escape`, `syntax` and `check` directives (only before the first comment, blank line
or instruction); comments and empty lines inside continuations; every instruction of docker's
reference, with the flags current BuildKit knows (`RUN --mount/--network/--security`,
`COPY --from/--chown/--chmod/--link/--parents/--exclude`, `ADD --chown/--chmod/--checksum/
--keep-git-dir/--link/--exclude`, `HEALTHCHECK --interval/--timeout/--start-period/
--start-interval/--retries`, `FROM --platform`). Heredocs (`RUN <<EOF`) are NOT supported: the
line is kept as shell text, as docker's classic builder does, so `<<EOF` reaches the shell.
Differences from engine 20.10's classic builder (whose texts the tests pin): errors always carry
a line, and this parser accepts the BuildKit-only flags the classic builder refuses.

For the builder: flag values are kept as written. Docker expands `--chown` (classic and BuildKit)
and `--chmod` (BuildKit) of ADD/COPY with the stage's ENV/ARG state, `--platform` with the meta
args (plan.resolve does), and never `--from` (plan.BuildPlan.copy_source resolves it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from imgtui.build.errors import DockerfileError
from imgtui.fmt import go_duration_ns as parse_duration  # Go's time.ParseDuration

__all__ = [
    "DEFAULT_ESCAPE",
    "EXPANDED",
    "KINDS",
    "Directives",
    "Dockerfile",
    "Health",
    "Instruction",
    "Mount",
    "Stage",
    "parse",
    "parse_duration",
    "parse_line",
    "parse_mount",
]

DEFAULT_ESCAPE = "\\"

# Instructions whose arguments docker expands (SupportsSingleWordExpansion, plus FROM with the
# meta args). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are never expanded.
EXPANDED = frozenset(
    {"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME"}
    | {"WORKDIR"}
)
KINDS = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
]

# flag name -> kind: "string", "bool" or "strings" (repeatable)
_FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": "string"},
    "RUN": {"mount": "strings", "network": "string", "security": "string"},
    "COPY": {
        "from": "string",
        "chown": "string",
        "chmod": "string",
        "link": "bool",
        "parents": "bool",
        "exclude": "strings",
    },
    "ADD": {
        "chown": "string",
        "chmod": "string",
        "checksum": "string",
        "keep-git-dir": "bool",
        "link": "bool",
        "exclude": "strings",
    },
    "HEALTHCHECK": {
        "interval": "string",
        "timeout": "string",
        "start-period": "string",
        "start-interval": "string",
        "retries": "string",
    },
}

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("escape", "syntax", "check")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_ONBUILD_PREFIX = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)
_NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


# ------------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class Directives:
    """The parser directives at the top of the file."""

    escape: str = DEFAULT_ESCAPE
    syntax: str | None = None  # recorded only; imgtui has no frontend images
    check: str | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """HEALTHCHECK, in the image config's terms: durations in nanoseconds, 0 = inherit default."""

    test: tuple[str, ...]  # ("NONE",), ("CMD", …) or ("CMD-SHELL", text)
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


def _last(pairs: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The value of the last pair named `name`: docker lets a repeated flag or option win."""
    found = None
    for key, value in pairs:
        if key == name:
            found = value
    return found


@dataclass(frozen=True, slots=True)
class Mount:
    """One `RUN --mount=…` (values unexpanded, as written)."""

    type: str
    target: str | None
    options: tuple[tuple[str, str], ...]  # every key=value, in order, `type` included

    def option(self, name: str) -> str | None:
        """The last value given for `name` (None when absent)."""
        return _last(self.options, name)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction as written; nothing is expanded.

    `args` are the arguments after the flags: for JSON form the decoded strings; for shell form
    of RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK's command the whole rest of the line as one string;
    otherwise the whitespace-separated words (quotes kept). `pairs` are ENV/LABEL key/value and ARG
    name/default (None = no default). `original` is the logical line with continuations joined, as
    docker keeps it (history `created_by`, cache keys); `source` the exact lines of the file.
    """

    kind: str
    args: tuple[str, ...]
    original: str
    line: int
    end_line: int
    source: str = ""
    flags: tuple[tuple[str, str], ...] = ()
    json_form: bool = False
    pairs: tuple[tuple[str, str | None], ...] = ()
    trigger: Instruction | None = None  # ONBUILD's instruction
    health: Health | None = None

    def flag(self, name: str) -> str | None:
        """The value of flag `--name` (the last one for repeatable flags), None when not given."""
        return _last(self.flags, name)

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Every value of a repeatable flag (`--mount`, `--exclude`), in order."""
        return tuple(value for key, value in self.flags if key == name)

    @property
    def mounts(self) -> tuple[Mount, ...]:
        """RUN's `--mount` flags, parsed."""
        return tuple(parse_mount(v) for v in self.flag_values("mount"))

    @property
    def trigger_text(self) -> str:
        """For ONBUILD: the trigger as the image config records it."""
        return _ONBUILD_PREFIX.sub("", self.original, count=1)


@dataclass(frozen=True, slots=True)
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    name: str | None  # lowercased, as docker compares stage names
    base: str  # FROM's image, unexpanded ("scratch", a stage name, or a reference)
    platform: str | None  # FROM --platform, unexpanded
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile; `meta_args` are the ARG instructions before the first FROM."""

    directives: Directives
    stages: tuple[Stage, ...]
    meta_args: tuple[Instruction, ...] = ()
    filename: str = "Dockerfile"

    @property
    def escape(self) -> str:
        """The escape character in force (directive or backslash)."""
        return self.directives.escape

    def stage_index(self, name: str) -> int | None:
        """The index of the stage called `name` (case-insensitive), None when there is none."""
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage.index
        return None


# ------------------------------------------------------------------------------------ line pass


@dataclass(slots=True)
class _Node:
    """The line pass's result for one instruction (docker's AST node)."""

    cmd: str  # lowercased
    flags: list[str]
    rest: str  # the text after the flags
    original: str
    start: int
    end: int
    source: str
    args: list[str] = field(default_factory=list)
    json_form: bool = False
    pairs: list[tuple[str, str | None]] = field(default_factory=list)
    child: _Node | None = None


def _is_comment(line: str) -> bool:
    return line.strip(" \t\r\n\v\f").startswith("#")


def _read_directives(lines: list[str], filename: str) -> Directives:
    """The directives at the top (they stay in the text as comments)."""
    found: dict[str, str] = {}
    for raw in lines:
        match = _DIRECTIVE.match(raw.lstrip(" \t"))
        if not match:
            break
        key = match.group(1).lower()
        if key not in _KNOWN_DIRECTIVES:
            break  # an unknown directive is a comment and ends the directives
        if key in found:
            raise DockerfileError(f"only one {key} parser directive can be used", None, filename)
        found[key] = match.group(2)
    escape = found.get("escape", DEFAULT_ESCAPE)
    if escape not in ("\\", "`"):
        raise DockerfileError(
            f"invalid escape token '{escape}' does not match ` or \\", None, filename
        )
    return Directives(escape, found.get("syntax"), found.get("check"))


def _logical_lines(lines: list[str], escape: str) -> Iterator[tuple[int, int, str, str]]:
    """(first line, last line, joined text, source text) for each instruction."""
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        start = i
        text = raw.lstrip(" \t\r\n\v\f")
        if _is_comment(text):
            continue
        joined, ended = _trim_continuation(text, continuation)
        if ended and not joined.strip():
            continue
        while not ended and i < len(lines):
            raw = lines[i]
            i += 1
            if _is_comment(raw):
                continue  # a comment inside a continuation is dropped
            if not raw.strip(" \t\r\n\v\f"):
                continue  # so is an empty line (docker warns; it will be an error one day)
            part, ended = _trim_continuation(raw, continuation)
            joined += part
        yield start, i, joined, "\n".join(lines[start - 1 : i])


def _trim_continuation(text: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    match = continuation.search(text)
    if match:
        return text[: match.start()], False
    return text, True


def _extract_flags(rest: str) -> tuple[list[str], str]:
    """Leading `--flag[=value]` words (quotes and escapes as docker's extractBuilderFlags)."""
    words: list[str] = []
    pos, n = 0, len(rest)
    while True:
        while pos < n and rest[pos].isspace():
            pos += 1
        if pos >= n:
            return words, ""
        if not rest.startswith("--", pos):
            return words, rest[pos:]
        word, quote, blank_ok = [], "", False
        while pos < n:
            ch = rest[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\" and pos + 1 < n:
                    pos += 1
                    word.append(rest[pos])
                elif ch != "\\":
                    word.append(ch)
                pos += 1
                continue
            if ch.isspace():
                break
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(rest[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return words, rest[pos:].lstrip()
        if text or blank_ok:
            words.append(text)


def _parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes (docker's parseWords)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    blank_ok = False
    in_word = False
    pos, n = 0, len(rest)
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if ch.isspace():
                pos += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos + 1 == n:
                    break
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        if ch.isspace():
            if word or blank_ok:
                words.append("".join(word))
            word, blank_ok, in_word = [], False, False
            pos += 1
            continue
        if ch in "'\"":
            quote, blank_ok = ch, True
        if ch == escape:
            if pos + 1 == n:
                break
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    if in_word and (word or blank_ok):
        words.append("".join(word))
    return words


def _parse_json(rest: str) -> list[str] | None:
    """A JSON string array, or None when `rest` is not JSON (then it is shell form).

    Like Go's json.Decoder, only the first JSON value counts: text after the `]` is ignored.
    """
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise ValueError(_NOT_STRINGS)
    return value


def _name_val(node: _Node, key: str, escape: str) -> None:
    """ENV/LABEL: the legacy `KEY name value` or `KEY a=1 b=2` forms."""
    words = _parse_words(node.rest, escape)
    if not words:
        return
    if "=" not in words[0]:
        parts = _WHITESPACE.split(node.rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{key} must have two arguments")
        node.pairs = [(parts[0], parts[1])]
        return
    for word in words:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {_go_quote(word)}. Must be of the form: name=value"
            )
        name, _, value = word.partition("=")
        node.pairs.append((name, value))


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _node_from_line(text: str, start: int, end: int, source: str, escape: str) -> _Node:
    stripped = text.strip(" \t\r\n\v\f")
    parts = _WHITESPACE.split(stripped, maxsplit=1)
    cmd = parts[0].lower()
    flags, rest = _extract_flags(parts[1]) if len(parts) == 2 else ([], "")
    node = _Node(cmd, flags, rest, text, start, end, source)
    if cmd in ("run", "cmd", "entrypoint", "shell"):
        if rest:
            decoded = _parse_json(rest)
            node.args, node.json_form = ([rest], False) if decoded is None else (decoded, True)
    elif cmd in ("add", "copy", "volume"):
        decoded = _parse_json(rest)
        if decoded is not None:
            node.args, node.json_form = decoded, True
        elif rest:
            node.args = _WHITESPACE.split(rest)
    elif cmd in ("from", "expose"):
        node.args = _WHITESPACE.split(rest) if rest else []
    elif cmd in ("maintainer", "stopsignal", "user", "workdir"):
        node.args = [rest] if rest else []
    elif cmd == "env":
        _name_val(node, "ENV", escape)
    elif cmd == "label":
        _name_val(node, "LABEL", escape)
    elif cmd == "arg":
        for word in _parse_words(rest, escape):
            node.args.append(word)
    elif cmd == "healthcheck":
        words = rest.split(None, 1) if rest else []
        if words:
            node.args = [words[0]]
            tail = words[1] if len(words) > 1 else ""
            if tail:
                decoded = _parse_json(tail)
                node.json_form = decoded is not None
                node.args += decoded if decoded is not None else [tail]
    elif cmd == "onbuild":
        if rest:
            node.child = _node_from_line(rest, start, end, source, escape)
            node.args = [rest]
    else:
        node.args = _WHITESPACE.split(rest) if rest else []
    return node


# ------------------------------------------------------------------------- instruction pass


def _parse_flags(kind: str, words: list[str]) -> tuple[tuple[str, str], ...]:
    """Validate `--flag` words against what `kind` accepts (docker's BFlags rules)."""
    allowed = _FLAGS.get(kind, {})
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for word in words:
        if not word.startswith("--"):
            raise ValueError(f"Arg should start with -- : {word}")
        name, eq, value = word[2:].partition("=")
        flag_type = allowed.get(name)
        if flag_type is None:
            raise ValueError(f"Unknown flag: {name}")
        if name in seen and flag_type != "strings":
            raise ValueError(f"Duplicate flag specified: {name}")
        seen.add(name)
        if flag_type == "bool":
            if eq and not value:
                raise ValueError(f"Missing a value on flag: {name}")
            lower = value.lower()
            if lower not in ("", "true", "false"):
                raise ValueError(f"Expecting boolean value for flag {name}, not: {value}")
            out.append((name, lower or "true"))
        else:
            if not eq:
                raise ValueError(f"Missing a value on flag: {name}")
            out.append((name, value))
    return tuple(out)


def _interval(name: str, value: str | None) -> int:
    if not value:
        return 0
    ns = parse_duration(value)
    if ns == 0:
        return 0 if name == "start-interval" else _too_short(name)
    if ns < 1_000_000:
        _too_short(name)
    return ns


def _too_short(name: str) -> int:
    raise ValueError(f'Interval "{name}" cannot be less than 1ms')


def _health(args: list[str], json_form: bool, flags: list[str]) -> tuple[Health, tuple]:
    if not args:
        raise ValueError("HEALTHCHECK requires at least one argument")
    typ = args[0].upper()
    rest = args[1:]
    if typ == "NONE":
        if rest:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return Health(("NONE",)), ()  # docker ignores flags given with NONE
    parsed = _parse_flags("HEALTHCHECK", flags)
    got = dict(parsed)
    if typ != "CMD":
        raise ValueError(f'Unknown type "{args[0].upper()}" in HEALTHCHECK (try CMD)')
    if not rest:
        raise ValueError("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *rest) if json_form else ("CMD-SHELL", " ".join(rest))
    retries = 0
    if got.get("retries"):
        try:
            retries = int(got["retries"], 10)
        except ValueError:
            raise ValueError(
                f"strconv.ParseInt: parsing {_go_quote(got['retries'])}: invalid syntax"
            ) from None
        if retries < 1:
            raise ValueError(f"--retries must be at least 1 (not {retries})")
    health = Health(
        test,
        interval=_interval("interval", got.get("interval")),
        timeout=_interval("timeout", got.get("timeout")),
        start_period=_interval("start-period", got.get("start-period")),
        start_interval=_interval("start-interval", got.get("start-interval")),
        retries=retries,
    )
    return health, parsed


_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_TARGET_KEYS = ("target", "dst", "destination")


def parse_mount(value: str) -> Mount:
    """A `--mount` value (`type=cache,target=/x,…`); raises ValueError with BuildKit's text."""
    options: list[tuple[str, str]] = []
    mount_type, target = "bind", None
    for field_ in _csv_fields(value):
        key, eq, val = field_.partition("=")
        key = key.strip().lower()
        if not eq and key in ("ro", "readonly", "rw", "readwrite"):
            val = "true"
        options.append((key, val))
        if key == "type":
            if val not in _MOUNT_TYPES:
                raise ValueError(f"unsupported mount type {_go_quote(val)}")
            mount_type = val
        elif key in _TARGET_KEYS:
            target = val
    if target is None and mount_type not in ("secret", "ssh"):
        raise ValueError("mount destination not specified")
    return Mount(mount_type, target, tuple(options))


def _csv_fields(value: str) -> list[str]:
    """Go's encoding/csv on one record: commas split, double quotes group."""
    fields, cur, quoted, i = [], [], False, 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == '"' and value[i + 1 : i + 2] == '"':
                cur.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"' and not cur:
            quoted = True
        elif ch == ",":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    fields.append("".join(cur))
    return [f for f in fields if f]


def _instruction(node: _Node) -> Instruction:
    """The instruction pass for one node; raises ValueError with docker's reason."""
    kind = node.cmd.upper()
    args = node.args
    flags: tuple[tuple[str, str], ...] = ()
    health = None
    trigger = None
    if kind not in KINDS:
        raise ValueError(f"unknown instruction: {kind}")

    def need_flags() -> tuple[tuple[str, str], ...]:
        return _parse_flags(kind, node.flags)

    if kind in ("ADD", "COPY"):
        if len(args) < 2:
            raise ValueError(
                f"{kind} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
        flags = need_flags()
    elif kind == "ARG":
        if not args:
            raise ValueError("ARG requires at least one argument")
        flags = need_flags()
        pairs = []
        for word in args:
            if "=" in word:
                name, _, value = word.partition("=")
                if not name:
                    raise ValueError("ARG names can not be blank")
                pairs.append((name, value))
            else:
                pairs.append((word, None))
        node.pairs = pairs
    elif kind in ("ENV", "LABEL"):
        if not node.pairs:
            raise ValueError(f"{kind} requires at least one argument")
        if any(not name for name, _ in node.pairs):
            raise ValueError(f"{kind} names can not be blank")
        flags = need_flags()
    elif kind in ("EXPOSE", "VOLUME", "ONBUILD"):
        if not args:
            raise ValueError(f"{kind} requires at least one argument")
        flags = need_flags()
        if kind == "VOLUME" and any(not v.strip() for v in args):
            raise ValueError("VOLUME specified can not be an empty string")
        if kind == "ONBUILD":
            assert node.child is not None
            child_kind = node.child.cmd.upper()
            if child_kind == "ONBUILD":
                raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if child_kind in ("MAINTAINER", "FROM"):
                raise ValueError(f"{child_kind} isn't allowed as an ONBUILD trigger")
            # Docker checks the rest of a trigger only when a child image runs it (ONBUILD FOO
            # builds); `trigger` is then None and the child build reports it.
            try:
                trigger = _instruction(node.child)
            except ValueError:
                trigger = None
    elif kind in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        if len(args) != 1:
            raise ValueError(f"{kind} requires exactly one argument")
        flags = need_flags()
    elif kind == "FROM":
        if len(args) == 3 and args[1].lower() == "as":
            if not _STAGE_NAME.match(args[2].lower()):
                raise ValueError(
                    f"invalid name for build stage: {_go_quote(args[2])}, "
                    "name can't start with a number or contain symbols"
                )
        elif len(args) != 1:
            raise ValueError("FROM requires either one or three arguments")
        flags = need_flags()
    elif kind == "HEALTHCHECK":
        health, flags = _health(args, node.json_form, node.flags)
    elif kind == "SHELL":
        if not args:
            raise ValueError("SHELL requires at least one argument")
        flags = need_flags()
        if not node.json_form:
            raise ValueError("SHELL requires the arguments to be in JSON form")
    else:  # RUN CMD ENTRYPOINT
        flags = need_flags()
        network = dict(flags).get("network")
        if network is not None and network not in ("default", "none", "host"):
            raise ValueError(f"unsupported network mode {_go_quote(network)}")
        for key, value in flags:
            if key == "mount":
                parse_mount(value)
    return Instruction(
        kind=kind,
        args=tuple(args),
        original=node.original,
        line=node.start,
        end_line=node.end,
        source=node.source,
        flags=flags,
        json_form=node.json_form,
        pairs=tuple(node.pairs),
        trigger=trigger,
        health=health,
    )


# ------------------------------------------------------------------------------------ API


def _split_lines(text: str) -> list[str]:
    """Lines as Go's bufio.ScanLines gives them: `\\n` ends a line, one trailing `\\r` is cut."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def parse(text: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile; raises DockerfileError (one line, docker's reason)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = _split_lines(text)
    directives = _read_directives(lines, filename)
    nodes: list[_Node] = []
    for start, end, joined, source in _logical_lines(lines, directives.escape):
        try:
            nodes.append(_node_from_line(joined, start, end, source, directives.escape))
        except ValueError as e:
            raise DockerfileError(str(e), start, filename) from None
    if not nodes:
        raise DockerfileError("file with no instructions", None, filename)

    meta: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    names: dict[str, int] = {}

    def close_stage() -> None:
        if stages:
            last = stages[-1]
            stages[-1] = Stage(
                last.index,
                last.name,
                last.base,
                last.platform,
                last.from_instruction,
                tuple(current),
            )

    for node in nodes:
        try:
            instr = _instruction(node)
        except ValueError as e:
            raise DockerfileError(str(e), node.start, filename) from None
        if instr.kind == "FROM":
            close_stage()
            current = []
            name = instr.args[2].lower() if len(instr.args) == 3 else None
            if name is not None:
                if name in names:
                    raise DockerfileError(
                        f"duplicate stage name {_go_quote(name)}", node.start, filename
                    )
                names[name] = len(stages)
            stages.append(
                Stage(len(stages), name, instr.args[0], instr.flag("platform"), instr, ())
            )
        elif not stages:
            if instr.kind != "ARG":
                raise DockerfileError("no build stage in current context", node.start, filename)
            meta.append(instr)
        else:
            current.append(instr)
    close_stage()
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build", None, filename)
    for stage in stages:
        _check_from_flags(stage, filename)
    return Dockerfile(directives, tuple(stages), tuple(meta), filename)


def _check_from_flags(stage: Stage, filename: str) -> None:
    """`COPY --from=N` must name an earlier stage (docker's texts)."""
    for instr in stage.instructions:
        value = instr.flag("from") if instr.kind == "COPY" else None
        if value is None or not value.isdigit():
            continue
        index = int(value)
        if index == stage.index:
            reason = f"invalid from flag value {value}: refers to current build stage"
            raise DockerfileError(reason, instr.line, filename)
        if index > stage.index:
            reason = f"invalid from flag value {value}: index out of bounds"
            raise DockerfileError(reason, instr.line, filename)


def parse_line(text: str, escape: str = DEFAULT_ESCAPE) -> Instruction:
    """One instruction on its own, e.g. an ONBUILD trigger from an image config."""
    try:
        node = _node_from_line(text, 1, 1, text, escape)
        return _instruction(node)
    except ValueError as e:
        raise DockerfileError(str(e), 1) from None
