"""The `created_by` texts of the classic builder's history, with Go's formatting quirks.

Docker writes each step's command into the image history: metadata steps as
`/bin/sh -c #(nop)  ENV A=1` (two spaces; the shell is the stage's SHELL), WORKDIR/COPY/ADD as
`/bin/sh -c #(nop) COPY file:<hash> in /dst ` (one space, a trailing one), RUN as the command
with the build args it saw in front (`|2 A=1 B=2 /bin/sh -c make`). Values are printed with Go's
fmt verbs (`%q` of slices, `%v` of a struct), reproduced here so `imgtui history` reads as
`docker history` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgtui.build.parser import Health
from imgtui.fmt import go_duration

__all__ = ["go_duration", "go_list", "go_quote", "go_quote_rune", "go_quoted_list", "health_text"]

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES |= {"\v": "\\v", "\\": "\\\\"}


def _escape(ch: str, quote: str) -> str:
    if ch == quote:
        return "\\" + ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%q` of a string)."""
    return '"' + "".join(_escape(ch, '"') for ch in text) + '"'


def go_quote_rune(value: int) -> str:
    """Go's `%q` of an integer: a quoted character literal (`'\\x04'`)."""
    if not 0 <= value <= 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "'\ufffd'"
    return "'" + _escape(chr(value), "'") + "'"


def go_quoted_list(items: Sequence[str]) -> str:
    """`%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_list(items: Sequence[str]) -> str:
    """`%v` of a []string: `[a b]`."""
    return "[" + " ".join(items) + "]"


def health_text(health: Health) -> str:
    """`%q` of engine 20.10's *HealthConfig: `&{["CMD" "x"] "1m30s" "5s" "1.5s" '\\x04'}`."""
    return (
        f"&{{{go_quoted_list(health.test)} {go_quote(go_duration(health.interval))} "
        f"{go_quote(go_duration(health.timeout))} {go_quote(go_duration(health.start_period))} "
        f"{go_quote_rune(health.retries)}}}"
    )
