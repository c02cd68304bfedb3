"""A Dockerfile recovered from an image's history, for images that do not carry their own.

Every builder leaves one history entry per instruction, in its own dialect:

* the classic builder: ``/bin/sh -c #(nop)  ENV A=1``, ``/bin/sh -c #(nop) COPY file:<sha> in /x ``
  and, for RUN, the command line itself (``|2 A=1 B=2 /bin/sh -c make``, build args first);
* BuildKit: the instruction itself (``ENV A=1``, ``EXPOSE map[80/tcp:{}]``,
  ``RUN /bin/sh -c make # buildkit``);
* ``docker import`` (no command, comment "Imported from …") and ``docker commit`` (the container's
  command, the commit message as comment).

Both builders record values after variable expansion and without their original quoting, so the
image config, when given, settles where one ENV/LABEL value ends and the next begins. What no
history records (ONBUILD under BuildKit, config set by ``import``/``commit --change``) is
recovered from the config too. Stdlib only.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from imgtui.backends.base import HealthCheck, HistoryEntry, ImageConfig
from imgtui.fmt import go_duration, go_duration_ns, human_size

__all__ = ["instruction_from_created_by", "reconstruct"]

HEADER = (
    "# Reconstructed by imgtui from the image history: it may differ from the original Dockerfile.",
    "# COPY/ADD sources show as the builder recorded them (content hashes such as file:<sha256>).",
)
DEFAULT_SHELL = ("/bin/sh", "-c")
WINDOWS_SHELL = ("cmd", "/S", "/C")
BUILDKIT_COMMENT = "buildkit.dockerfile.v0"
KEYWORDS = frozenset(
    (
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL"),
        *("MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"),
    )
)
WRAP_WIDTH = 80
_INDENT = "    "

# --------------------------------------------------------------------------- instructions


@dataclass(frozen=True)
class _Run:
    """A RUN: shell form keeps the command text, exec form the argv."""

    command: str | None = None
    argv: tuple[str, ...] | None = None
    build_args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Instr:
    """One parsed history step; `keyword` "#" is a comment-only step."""

    keyword: str
    value: Any = None
    notes: tuple[str, ...] = ()
    opaque: bool = False  # import/commit: the config may have changed without a record


# --------------------------------------------------------------------------- Go value syntax

_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _go_literal(text: str, i: int) -> tuple[str, int]:
    """Read a Go quoted string or rune literal starting at text[i]; returns (value, end)."""
    quote = text[i]
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _GO_ESCAPES:
            out.append(_GO_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            n = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(text[i + 2 : i + 2 + n], 16)))
            i += 2 + n
        elif nxt.isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(nxt)
            i += 2
    raise ValueError(f"unterminated Go literal in {text!r}")


def _go_strings(text: str) -> list[str] | None:
    """A Go %q string slice (`["a" "b"]`) or a JSON array; None when it is neither."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        pass
    else:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None
    if not (text.startswith("[") and text.endswith("]")):
        return None
    out: list[str] = []
    i = 1
    try:
        while i < len(text) - 1:
            if text[i] in " ,":
                i += 1
            elif text[i] == '"':
                value_s, i = _go_literal(text, i)
                out.append(value_s)
            else:
                return None
    except (ValueError, IndexError):
        return None
    return out


def _split_known(text: str, known: Iterable[str] = ()) -> list[str]:
    """Split a space-joined list, keeping known items that contain spaces whole."""
    items = sorted({k for k in known if " " in k}, key=len, reverse=True)
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
            continue
        for item in items:
            end = pos + len(item)
            if text.startswith(item, pos) and (end == len(text) or text[end] == " "):
                out.append(item)
                pos = end
                break
        else:
            end = text.find(" ", pos)
            end = len(text) if end < 0 else end
            out.append(text[pos:end])
            pos = end
    return out


# --------------------------------------------------------------------------- parsing entries

_NOP = re.compile(r"^(?:(?P<shell>[^#|][^#]*?) )?#\(nop\) ?(?P<rest>.*)$", re.S)
_BUILD_ARGS = re.compile(r"^\|(?P<n>\d+)(?: (?P<rest>.*))?$", re.S)
_CLASSIC_COPY = re.compile(
    r"^(?P<flags>(?:--[a-z-]+=\S*?\s?)*?)(?P<src>(?:file|dir|multi):[0-9a-f]+) in (?P<dest>.*?) ?$",
    re.S,
)
_CLASSIC_COPY_ANY = re.compile(r"^(?P<flags>(?:--[a-z-]+=\S+ )*)(?P<src>\S+) in (?P<dest>.*?) ?$")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHELLS = frozenset(("sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"))
_FROM_COMMENT = re.compile(r"^FROM (\S+)$")


def _shell_prefixes(shell: Sequence[str]) -> list[tuple[str, ...]]:
    """The shells a RUN may have been recorded with: the current one first."""
    out = [tuple(shell)]
    for s in (DEFAULT_SHELL, WINDOWS_SHELL):
        if s not in out:
            out.append(s)
    return out


def _argv_from_joined(text: str) -> tuple[str, ...]:
    """Undo `strings.Join(cmd, " ")` as well as one can: keep `sh -c SCRIPT` whole."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    words = [text[a:b] for a, b in spans]
    if not words:
        return ()
    prog = words[0].rsplit("/", 1)[-1].lower()
    i = 1
    found = False
    if prog in _SHELLS:
        while i < len(words) and words[i][:1] in "-+":
            flag = words[i]
            if flag in ("-o", "+o"):
                i += 2
                continue
            i += 1
            if "c" in flag[1:]:
                found = True
                break
    elif prog in ("cmd", "cmd.exe"):
        while i < len(words) and words[i].startswith("/"):
            i += 1
            if words[i - 1].lower() in ("/c", "/k"):
                found = True
                break
    elif prog in ("powershell", "powershell.exe", "pwsh", "pwsh.exe"):
        while i < len(words) and words[i].startswith("-"):
            i += 1
            if words[i - 1].lower() in ("-command", "-c"):
                found = True
                break
    if found and i < len(words):
        return (*words[:i], text[spans[i][0] :])
    return tuple(words)


def _parse_run(text: str, shell: Sequence[str]) -> _Run:
    """`|N K=V… /bin/sh -c CMD` or an exec form's joined argv."""
    build_args: list[tuple[str, str]] = []
    m = _BUILD_ARGS.match(text)
    if m:
        n = int(m.group("n"))
        text = m.group("rest") or ""
        build_args, text = _split_build_args(text, n, shell)
    for prefix in _shell_prefixes(shell):
        lead = " ".join(prefix) + " "
        if text.startswith(lead):
            return _Run(command=text[len(lead) :], build_args=tuple(build_args))
        if text == lead.rstrip():
            return _Run(command="", build_args=tuple(build_args))
    return _Run(argv=_argv_from_joined(text), build_args=tuple(build_args))


def _pairs_from(text: str) -> list[tuple[str, str]]:
    """`A=1 B=two words` -> pairs, a new pair starting at each `NAME=` word."""
    pairs: list[list[str]] = []
    for word in text.split(" "):
        key, eq, value = word.partition("=")
        if eq and _ENV_KEY.fullmatch(key):
            pairs.append([key, value])
        elif pairs:
            pairs[-1][1] += " " + word
        else:
            return []
    return [(k, v) for k, v in pairs]


def _split_build_args(text: str, n: int, shell: Sequence[str]) -> tuple[list[tuple[str, str]], str]:
    """Separate the N build args docker prepends to a RUN from the command after them."""
    if n == 0:
        return [], text
    for prefix in _shell_prefixes(shell):
        lead = " " + " ".join(prefix)
        start = 0
        while (at := text.find(lead, start)) >= 0:
            tail = text[at + len(lead) :]
            if tail == "" or tail.startswith(" "):
                pairs = _pairs_from(text[:at])
                if len(pairs) == n:
                    return pairs, text[at + 1 :]
            start = at + 1
    # exec form: values with spaces cannot be told apart, take one word each
    words = text.split(" ")
    pairs = []
    for word in words[:n]:
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs, " ".join(words[n:])


def _split_assignments(
    text: str, known: Mapping[str, str] | None, key_pattern: re.Pattern[str]
) -> list[tuple[str, str]]:
    """`K=V K2=V2` as ENV/LABEL record them (unquoted); `known` (the config) resolves spaces."""
    known = known or {}
    keys = sorted(known, key=len, reverse=True)
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
            continue
        for key in keys:
            kv = f"{key}={known[key]}"
            end = pos + len(kv)
            if text.startswith(kv, pos) and (end == len(text) or text[end] == " "):
                out.append((key, known[key]))
                pos = end
                break
        else:
            eq = text.find("=", pos)
            if eq < 0:  # legacy `ENV KEY value` never reaches history, but be safe
                out.append((text[pos:], ""))
                break
            key = text[pos:eq]
            end = eq + 1
            while True:
                space = text.find(" ", end)
                if space < 0:
                    end = len(text)
                    break
                nxt = text[space + 1 :]
                eq2 = nxt.find("=")
                candidate = nxt[:eq2] if eq2 > 0 else ""
                if candidate and (
                    candidate in known if known else key_pattern.fullmatch(candidate)
                ):
                    end = space
                    break
                end = space + 1
            out.append((key, text[eq + 1 : end]))
            pos = end
    return out


def _parse_args(text: str) -> list[tuple[str, str | None]]:
    """`ARG A=1 B` as history records it."""
    out: list[list[Any]] = []
    for word in text.split(" "):
        key, eq, value = word.partition("=")
        if _ENV_KEY.fullmatch(key):
            out.append([key, value if eq else None])
        elif out and word:
            out[-1][1] = f"{out[-1][1] or ''} {word}"
    return [(k, v) for k, v in out]


def _parse_ports(text: str) -> list[str]:
    """`443/udp 80`, `map[80/tcp:{} 443/udp:{}]` (BuildKit) or `[80/tcp]` (newer BuildKit)."""
    text = text.strip()
    if text.startswith("map[") and text.endswith("]"):
        return [p.removesuffix(":{}") for p in text[4:-1].split()]
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1].split()
    return text.split()


def _healthcheck_test(kind: str, rest: str, config: ImageConfig | None) -> tuple[str, ...]:
    if kind == "CMD-SHELL":
        return (kind, rest)
    recorded = config.healthcheck.test if config and config.healthcheck else ()
    if kind == "CMD" and recorded[:1] == ("CMD",) and " ".join(recorded[1:]) == rest:
        return tuple(recorded)
    return (kind, *rest.split()) if rest else (kind,)


def _parse_healthcheck(text: str, config: ImageConfig | None) -> HealthCheck | None:
    """Both Go renderings: `&{["CMD-SHELL" "x"] "30s" "5s" "0s" '\\x03'}` and `{Test:[…] …}`."""
    text = text.strip()
    body = text.removeprefix("&")
    if not (body.startswith("{") and body.endswith("}")):
        return None
    body = body[1:-1]
    m = re.fullmatch(
        r"Test:\[(?P<test>.*)\] Interval:(?P<i>\S+) Timeout:(?P<t>\S+) StartPeriod:(?P<sp>\S+)"
        r"(?: StartInterval:(?P<si>\S+))? Retries:(?P<r>-?\d+)",
        body,
        re.S,
    )
    try:
        if m:
            kind, _, rest = m.group("test").partition(" ")
            return HealthCheck(
                test=_healthcheck_test(kind, rest, config) if kind else (),
                interval_ns=go_duration_ns(m.group("i")),
                timeout_ns=go_duration_ns(m.group("t")),
                start_period_ns=go_duration_ns(m.group("sp")),
                retries=int(m.group("r")),
            )
        end = body.index("]")
        while True:  # the closing bracket may sit inside a quoted string
            test = _go_strings(body[: end + 1])
            if test is not None:
                break
            end = body.index("]", end + 1)
        values: list[str] = []
        i = end + 1
        while i < len(body):
            if body[i] in "\"'":
                value, i = _go_literal(body, i)
                values.append(value)
            else:
                i += 1
        durations = [go_duration_ns(v) for v in values[:-1]]
        retries = ord(values[-1]) if values else 0
        durations += [0] * (3 - len(durations))
        return HealthCheck(tuple(test), durations[0], durations[1], durations[2], retries)
    except (ValueError, IndexError):
        return None


def _parse_instruction(text: str, shell: Sequence[str], config: ImageConfig | None) -> _Instr:
    """A Dockerfile-shaped history text (BuildKit, or the part after `#(nop)`)."""
    keyword, _, rest = text.partition(" ")
    if keyword == "RUN":
        return _Instr("RUN", _parse_run(rest, shell))
    if keyword == "ENV":
        known = dict(e.partition("=")[::2] for e in config.env) if config else None
        return _Instr("ENV", _split_assignments(rest, known, _ENV_KEY))
    if keyword == "LABEL":
        known = dict(config.labels) if config else None
        return _Instr("LABEL", _split_assignments(rest, known, re.compile(r"[^\s=\"']+")))
    if keyword == "ARG":
        return _Instr("ARG", _parse_args(rest))
    if keyword in ("COPY", "ADD"):
        m = _CLASSIC_COPY.match(rest) or _CLASSIC_COPY_ANY.match(rest)
        if m:
            flags = m.group("flags").strip()
            return _Instr(keyword, (flags, (m.group("src"),), m.group("dest")))
        return _Instr(keyword, rest.strip())
    if keyword in ("CMD", "ENTRYPOINT"):
        argv = _go_strings(rest)
        return _Instr(keyword, tuple(argv)) if argv is not None else _Instr("#", text)
    if keyword == "SHELL":
        inner = rest.strip().removeprefix("[").removesuffix("]")
        argv = _go_strings(rest) if rest.lstrip().startswith('["') else None
        if argv is None:
            if config and config.shell and " ".join(config.shell) == inner:
                argv = list(config.shell)
            else:
                argv = inner.split()
        return _Instr("SHELL", tuple(argv))
    if keyword == "VOLUME":
        inner = rest.strip()
        if inner.startswith("[") and inner.endswith("]"):
            inner = inner[1:-1]
        return _Instr("VOLUME", tuple(_split_known(inner, config.volumes if config else ())))
    if keyword == "EXPOSE":
        return _Instr("EXPOSE", tuple(_parse_ports(rest)))
    if keyword == "HEALTHCHECK":
        health = _parse_healthcheck(rest, config)
        return _Instr("HEALTHCHECK", health) if health else _Instr("#", text)
    if keyword in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER", "ONBUILD"):
        return _Instr(keyword, rest.strip() if keyword != "ONBUILD" else rest)
    return _Instr("#", text)


def _parse_entry(
    created_by: str, comment: str, shell: Sequence[str], config: ImageConfig | None
) -> _Instr:
    """One history entry -> one instruction, in the current shell."""
    text = re.sub(r" \|inheritLabels=\S+$", "", created_by)  # buildah's marker
    text = text.removesuffix(" # buildkit")
    if not text.strip():
        return _Instr("#", "")
    nop = _NOP.match(text)
    if nop:
        rest = nop.group("rest").lstrip()
        if not rest:
            return _Instr("#", "")
        if rest.split(" ", 1)[0] in KEYWORDS:
            return _parse_instruction(rest, shell, config)
        return _Instr("#", rest)
    if text.split(" ", 1)[0] in KEYWORDS:
        return _parse_instruction(text, shell, config)
    run = _parse_run(text, shell)
    # The classic builder leaves no comment on a RUN; a message means `docker commit -m`.
    is_commit = bool(comment) and comment != BUILDKIT_COMMENT and not _FROM_COMMENT.match(comment)
    if is_commit:
        return _Instr("RUN", run, notes=(f"docker commit: {_one_line(comment)}",), opaque=True)
    return _Instr("RUN", run)


# --------------------------------------------------------------------------- rendering

_SAFE_WORD = re.compile(r"[A-Za-z0-9_./:,@%+=\-~^]+")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quote(value: str, *, key: bool = False) -> str:
    """A value (or key) for ENV/LABEL/ARG that the Dockerfile lexer reads back unchanged."""
    if value == "":
        return '""'
    if _SAFE_WORD.fullmatch(value) and not (key and "=" in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _escape_word(value: str) -> str:
    """A WORKDIR/USER/STOPSIGNAL argument with the lexer's special characters escaped."""
    return re.sub(r"([\\$'\"])", r"\\\1", value)


def _json(argv: Sequence[str]) -> str:
    return json.dumps(list(argv), ensure_ascii=False)


def _shell_segments(command: str) -> list[tuple[str, str]] | None:
    """Split a shell command at top-level `&&` and `;`; None when splitting is not safe."""
    # A Dockerfile line continuation only adds spaces between the pieces, which the shell
    # ignores outside quotes; comments, heredocs and unbalanced quoting are left alone.
    if "\n" in command or "<<" in command:
        return None
    stack = ["top"]
    parts: list[tuple[str, str]] = []
    start = 0
    i = 0
    n = len(command)
    while i < n:
        ch = command[i]
        ctx = stack[-1]
        if ctx == "sq":
            if ch == "'":
                stack.pop()
        elif ctx in ("dq", "bt"):
            if ch == "\\":
                i += 1
            elif (ch == '"' and ctx == "dq") or (ch == "`" and ctx == "bt"):
                stack.pop()
            elif ctx == "dq" and command.startswith("$(", i):
                stack.append("cs")
                i += 1
            elif ctx == "dq" and command.startswith("${", i):
                stack.append("br")
                i += 1
            elif ctx == "dq" and ch == "`":
                stack.append("bt")
        else:  # code: top level, $( ), ( ), ${ }
            if ch == "\\":
                i += 1
            elif ch == "'":
                stack.append("sq")
            elif ch == '"':
                stack.append("dq")
            elif ch == "`":
                stack.append("bt")
            elif command.startswith("$(", i):
                stack.append("cs")
                i += 1
            elif command.startswith("${", i):
                stack.append("br")
                i += 1
            elif ch == "(":
                stack.append("paren")
            elif (ch == ")" and ctx in ("cs", "paren")) or (ch == "}" and ctx == "br"):
                stack.pop()
            elif ch == "#" and (i == 0 or command[i - 1] in " \t;&|()"):
                return None  # a shell comment would swallow the joined lines
            elif ctx == "top" and command.startswith("&&", i):
                parts.append((command[start:i].strip(" \t"), "&&"))
                i += 2
                start = i
                continue
            elif ctx == "top" and ch == ";":
                if command[i + 1 : i + 2] in (";", "&"):  # `;;`, `;&`: case syntax
                    i += 2
                    continue
                parts.append((command[start:i].strip(" \t"), ";"))
                start = i + 1
        i += 1
    if stack != ["top"]:
        return None
    parts.append((command[start:].strip(" \t"), ""))
    if parts[-1] == ("", "") and len(parts) > 1 and parts[-2][1] == ";":
        parts.pop()
    if any(not seg for seg, _ in parts):
        return None
    return parts


def _wrap_run(command: str) -> str:
    """`RUN a && b; c`, continued over lines at `&&`/`;` when it is long."""
    line = f"RUN {command}"
    if len(line) <= WRAP_WIDTH:
        return line
    parts = _shell_segments(command)
    if parts is None or len(parts) < 2:
        return line
    lines: list[str] = []
    lead = ""
    for seg, op in parts:
        text = lead + seg
        lead = ""
        if op == ";":
            text += ";"
        elif op == "&&":
            lead = "&& "
        lines.append(text)
    return "RUN " + f" \\\n{_INDENT}".join(lines)


def _heredoc(script: str) -> str:
    """A RUN that carries a multi-line script, as a heredoc (Dockerfile syntax 1.4+)."""
    first = script.split("\n", 1)[0]
    m = re.search(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1", first)
    if m and script.rstrip("\n").rsplit("\n", 1)[-1].strip() == m.group(2):
        return f"RUN {script.rstrip(chr(10))}"  # already written as a heredoc
    word = "EOF"
    lines = set(script.split("\n"))
    while word in lines:
        word += "_"
    body = script if script.endswith("\n") else script + "\n"
    return f"RUN <<{word}\n{body}{word}"


def _render_run(run: _Run, shell: Sequence[str], *, wrap: bool = True) -> str:
    if run.argv is not None:
        return f"RUN {_json(run.argv)}"
    command = run.command or ""
    if "\n" in command:
        return _heredoc(command)
    # A line ending in "\" would continue onto the next; a JSON-looking one would be exec form.
    if command.rstrip(" \t").endswith("\\") or not command.strip() or _is_json(command):
        return f"RUN {_json([*shell, command])}"
    return _wrap_run(command) if wrap else f"RUN {command}"


def _is_json(text: str) -> bool:
    if not text.lstrip().startswith("["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _render_argv(keyword: str, argv: Sequence[str], shell: Sequence[str]) -> str:
    """CMD/ENTRYPOINT: the shell form when the recorded argv is `SHELL + [command]`."""
    n = len(shell)
    if len(argv) == n + 1 and tuple(argv[:n]) == tuple(shell):
        command = argv[n]
        one_line = "\n" not in command and not command.rstrip().endswith("\\")
        if command.strip() and one_line and not _is_json(command):
            return f"{keyword} {command}"
    return f"{keyword} {_json(argv)}"


def _render_healthcheck(health: HealthCheck, shell: Sequence[str]) -> str:
    test = tuple(health.test)
    if test[:1] == ("NONE",):
        return "HEALTHCHECK NONE"
    flags = []
    for name, ns in (
        ("interval", health.interval_ns),
        ("timeout", health.timeout_ns),
        ("start-period", health.start_period_ns),
    ):
        if ns:
            flags.append(f"--{name}={go_duration(ns)}")
    if health.retries:
        flags.append(f"--retries={health.retries}")
    if test[:1] == ("CMD-SHELL",) and len(test) == 2 and "\n" not in test[1]:
        cmd = f"CMD {test[1]}"
    elif test[:1] == ("CMD-SHELL",):
        cmd = f"CMD {_json([*shell, ' '.join(test[1:])])}"
    elif test[:1] == ("CMD",):
        cmd = f"CMD {_json(test[1:])}"
    else:
        return f"# HEALTHCHECK with no test: {' '.join(flags)}".rstrip()
    return " ".join(["HEALTHCHECK", *flags, cmd])


def _render_copy(keyword: str, value: Any) -> str:
    if isinstance(value, str):
        if "<<" in value or "\n" in value:  # inline file contents are not in the history
            return f"# {keyword} {_one_line(value)}  (inline content not recorded)"
        return f"{keyword} {value}"
    flags, sources, dest = value
    parts = [keyword, *([flags] if flags else [])]
    if any(c in s for s in (*sources, dest) for c in " \t\"'"):
        parts.append(_json([*sources, dest]))
    else:
        parts.extend([*sources, dest])
    return " ".join(parts)


def _assignments(keyword: str, pairs: Sequence[tuple[str, str | None]]) -> str:
    """`ENV A=1 B="two words"`; for ARG a None value means no default."""
    items = [_quote(k, key=True) + ("" if v is None else "=" + _quote(v)) for k, v in pairs]
    return f"{keyword} " + " ".join(items)


# --------------------------------------------------------------------------- the image as it grows


@dataclass
class _State:
    """What the instructions so far made of the image config (to spot what history omits)."""

    shell: tuple[str, ...] = DEFAULT_SHELL
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, None] = field(default_factory=dict)
    volumes: dict[str, None] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    stop_signal: str = ""
    on_build: list[str] = field(default_factory=list)
    healthcheck: HealthCheck | None = None
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False  # a CMD in the current stage: ENTRYPOINT then keeps it

    def new_stage(self) -> None:
        self.args = {}
        self.cmd_set = False

    def apply(self, instr: _Instr) -> None:
        kw, value = instr.keyword, instr.value
        if kw == "ENV":
            self.env.update(value)
        elif kw == "LABEL":
            self.labels.update(value)
        elif kw == "ARG":
            for k, v in value:
                self.args[k] = v
        elif kw == "EXPOSE":
            for port in value:
                for p in _expand_port(port):
                    self.ports[p] = None
        elif kw == "VOLUME":
            for v in value:
                self.volumes[v] = None
        elif kw == "USER":
            self.user = value
        elif kw == "WORKDIR":
            self.workdir = value
        elif kw == "CMD":
            self.cmd = tuple(value)
            self.cmd_set = True
        elif kw == "ENTRYPOINT":
            self.entrypoint = tuple(value)
            if not self.cmd_set:
                self.cmd = None
        elif kw == "SHELL":
            self.shell = tuple(value)
        elif kw == "STOPSIGNAL":
            self.stop_signal = value
        elif kw == "ONBUILD":
            self.on_build.append(value)
        elif kw == "HEALTHCHECK":
            self.healthcheck = value


def _expand_port(port: str) -> list[str]:
    """`80` -> `80/tcp`; `8000-8001/udp` -> both ports, as docker stores them."""
    number, _, proto = port.partition("/")
    proto = proto.lower() or "tcp"
    low, _, high = number.partition("-")
    if low.isdigit() and high.isdigit() and int(low) <= int(high) <= int(low) + 1000:
        return [f"{p}/{proto}" for p in range(int(low), int(high) + 1)]
    return [f"{number}/{proto}"]


def _unexplained(state: _State, config: ImageConfig) -> list[_Instr]:
    """Instructions that would turn `state` into `config`, for what history does not record."""
    out: list[_Instr] = []
    env = [tuple(e.partition("=")[::2]) for e in config.env]
    missing_env = [(k, v) for k, v in env if state.env.get(k) != v]
    if missing_env:
        out.append(_Instr("ENV", missing_env))
    labels = [(k, v) for k, v in config.labels.items() if state.labels.get(k) != v]
    if labels:
        out.append(_Instr("LABEL", labels))
    ports = tuple(p for p in config.exposed_ports if p not in state.ports)
    if ports:
        out.append(_Instr("EXPOSE", ports))
    volumes = tuple(v for v in config.volumes if v not in state.volumes)
    if volumes:
        out.append(_Instr("VOLUME", volumes))
    if config.working_dir and config.working_dir != state.workdir:
        out.append(_Instr("WORKDIR", config.working_dir))
    if config.user and config.user != state.user:
        out.append(_Instr("USER", config.user))
    if config.shell and tuple(config.shell) != state.shell:
        out.append(_Instr("SHELL", tuple(config.shell)))
    if config.stop_signal and config.stop_signal != state.stop_signal:
        out.append(_Instr("STOPSIGNAL", config.stop_signal))
    if config.healthcheck and config.healthcheck != state.healthcheck:
        out.append(_Instr("HEALTHCHECK", config.healthcheck))
    pending = list(state.on_build)
    for trigger in config.on_build:
        if trigger in pending:
            pending.remove(trigger)
        else:
            out.append(_Instr("ONBUILD", trigger))
    if config.entrypoint and tuple(config.entrypoint) != (state.entrypoint or ()):
        out.append(_Instr("ENTRYPOINT", tuple(config.entrypoint)))
        if not config.cmd:
            return out
    if config.cmd and tuple(config.cmd) != (state.cmd or ()):
        out.append(_Instr("CMD", tuple(config.cmd)))
    return out


class _Writer:
    """Renders instructions in order while tracking the state they build."""

    def __init__(self) -> None:
        self.state = _State()
        self.lines: list[str] = []
        self.build_args: dict[str, str] = {}

    def note(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.lines.append(f"# {line}".rstrip())

    def add(self, instr: _Instr, *, render: bool = True) -> None:
        state = self.state
        if render:
            for note in instr.notes:
                self.note(note)
        kw, value = instr.keyword, instr.value
        if kw == "RUN" and value.build_args:
            for k, v in value.build_args:
                if k not in state.args:
                    if render:
                        self.lines.append(_assignments("ARG", [(k, v)]))
                    state.args[k] = v
                elif state.args[k] != v and (state.args[k] is not None or v != ""):
                    self.build_args[k] = v
        if render:
            text = self.render(instr)
            if text:
                self.lines.append(text)
        state.apply(instr)

    def render(self, instr: _Instr) -> str:
        kw, value, shell = instr.keyword, instr.value, self.state.shell
        if kw == "#":
            return "\n".join(f"# {line}".rstrip() for line in value.splitlines()) if value else ""
        if kw == "FROM":
            return f"FROM {value}"
        if kw == "RUN":
            return _render_run(value, shell)
        if kw in ("ENV", "LABEL", "ARG"):
            return _assignments(kw, value)
        if kw in ("CMD", "ENTRYPOINT"):
            return _render_argv(kw, value, shell)
        if kw == "SHELL":
            return f"SHELL {_json(value)}"
        if kw in ("COPY", "ADD"):
            return _render_copy(kw, value)
        if kw == "EXPOSE":
            return "EXPOSE " + " ".join(value)
        if kw == "VOLUME":
            if all(_SAFE_WORD.fullmatch(v) for v in value):
                return "VOLUME " + " ".join(value)
            return f"VOLUME {_json(value)}"
        if kw == "HEALTHCHECK":
            return _render_healthcheck(value, shell)
        if kw in ("WORKDIR", "USER", "STOPSIGNAL"):
            return f"{kw} {_escape_word(value)}"
        return f"{kw} {value}"  # MAINTAINER, ONBUILD: as written


# --------------------------------------------------------------------------- public API


def instruction_from_created_by(created_by: str) -> str:
    """One history line as the Dockerfile instruction that made it ("" when there is none)."""
    instr = _parse_entry(created_by, "", DEFAULT_SHELL, None)
    if instr.keyword == "RUN":
        return _render_run(instr.value, DEFAULT_SHELL, wrap=False)
    return _Writer().render(instr)


def _base_index(entries: Sequence[HistoryEntry]) -> tuple[int, str] | None:
    """(oldest-first index of the first step of ours, FROM reference) when the base is known."""
    n = len(entries)
    # newest first: a tagged step below the top is a local image this one was built FROM
    for i, entry in enumerate(entries[1:], start=1):
        tags = [t for t in entry.tags if not t.startswith("<none>")]
        if tags:
            return n - i, tags[0]
    for i, entry in enumerate(entries):  # buildah notes its base on the first step it adds
        m = _FROM_COMMENT.match(entry.comment or "")
        if m:
            return n - 1 - i, m.group(1)
    return None


def _is_import(entry: HistoryEntry, bottom: bool) -> bool:
    """`docker import` leaves no command; its comment says so unless -m replaced it."""
    if entry.created_by.strip():
        return False
    return entry.comment.startswith("Imported from") or (bottom and entry.size > 0)


def reconstruct(history: Sequence[HistoryEntry], config: ImageConfig | None = None) -> str:
    """A Dockerfile for `history` (newest first, as docker returns it); `config` sharpens it."""
    # The bottom becomes `FROM <tag>` when a tagged local image is part of the history, else
    # `FROM scratch` with the root filesystem as an ADD. Normalizations: the classic builder's
    # COPY/ADD sources are content hashes (file:<sha256>); a RUN recorded as `SHELL + command`
    # reads back in shell form (also when written in exec form); long RUN commands continue
    # over lines at `&&`/`;`; build args that differ from the ARG defaults go in the header.
    entries = list(history)
    base = _base_index(entries)
    oldest_first = entries[::-1]
    instrs: list[tuple[_Instr, bool]] = []  # (instruction, rendered)
    shell: tuple[str, ...] = DEFAULT_SHELL
    first_ours = base[0] if base else 0
    if not base:
        instrs.append((_Instr("FROM", "scratch"), True))
    for i, entry in enumerate(oldest_first):
        ours = i >= first_ours
        if base and i == first_ours:
            instrs.append((_Instr("FROM", base[1]), True))
        if _is_import(entry, bottom=i == 0):
            what = entry.comment or "a layer with no recorded command"
            instr = _Instr(
                "ADD",
                ("", ("rootfs.tar",), "/"),
                notes=(
                    f"docker import ({_one_line(what)}): {human_size(entry.size)} root filesystem",
                ),
                opaque=True,
            )
        elif not entry.created_by.strip():
            if entry.size or entry.comment:
                note = f"a step with no recorded command added {human_size(entry.size)}"
                if entry.comment:
                    note += f" ({_one_line(entry.comment)})"
                instr = _Instr("#", note)
            else:
                continue
        else:
            instr = _parse_entry(entry.created_by, entry.comment, shell, config)
            if (
                instr.keyword == "ADD"
                and i == 0
                and not isinstance(instr.value, str)
                and instr.value[2] == "/"
            ):
                instr = replace(instr, notes=("the base image's root filesystem",))
        if instr.keyword == "SHELL":
            shell = tuple(instr.value)
        instrs.append((instr, ours))

    if config is not None:
        instrs = _add_unexplained(instrs, config, tagged_base=base is not None)

    writer = _Writer()
    for instr, rendered in instrs:
        if instr.keyword == "FROM":
            writer.state.new_stage()
        writer.add(instr, render=rendered)
    lines = list(HEADER)
    if writer.build_args:
        flags = " ".join(
            f"--build-arg {shlex.quote(f'{k}={v}')}" for k, v in writer.build_args.items()
        )
        lines.append(f"# Built with {flags}")
    lines.extend(writer.lines)
    return "\n".join(lines) + "\n"


def _simulate(instrs: Sequence[tuple[_Instr, bool]]) -> _State:
    writer = _Writer()
    for instr, _ in instrs:
        if instr.keyword == "FROM":
            writer.state.new_stage()
        writer.add(instr, render=False)
    return writer.state


def _add_unexplained(
    instrs: list[tuple[_Instr, bool]], config: ImageConfig, *, tagged_base: bool
) -> list[tuple[_Instr, bool]]:
    """Place config the history does not explain after the last import/commit, else last."""
    # ONBUILD triggers always go last: BuildKit records none in the history, their place in
    # the Dockerfile does not matter, and a child build clears those of its base.
    missing = _unexplained(_simulate(instrs), config)
    triggers = [m for m in missing if m.keyword == "ONBUILD"]
    missing = [m for m in missing if m.keyword != "ONBUILD"]
    tail: list[tuple[_Instr, bool]] = []
    if triggers:
        note = _Instr("#", "ONBUILD triggers from the image config (BuildKit leaves them out)")
        tail = [(note, True), *((t, True) for t in triggers)]
    opaque = [i for i, (instr, _) in enumerate(instrs) if instr.opaque]
    if missing and opaque:
        at = opaque[-1] + 1
        rendered = instrs[opaque[-1]][1]
        note = _Instr("#", "config set without a history entry (docker import/commit --change)")
        instrs = [*instrs[:at], (note, rendered), *((m, rendered) for m in missing), *instrs[at:]]
        missing = _unexplained(_simulate(instrs), config) if rendered else []
        missing = [m for m in missing if m.keyword != "ONBUILD"]
    elif tagged_base:
        missing = []  # inherited from the base image, whose config we do not see
    if missing:
        note = _Instr("#", "config not recorded in the history, from the image config")
        tail = [(note, True), *((m, True) for m in missing), *tail]
    return [*instrs, *tail]
