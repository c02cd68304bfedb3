"""docker's human formatting, byte for byte: sizes, ages, truncation and aligned tables.

Everything here follows what the docker CLI (docker/cli, docker/go-units, Go's text/tabwriter and
the engine's timestamp parser) does, including its quirks, so that `imgtui images` and `docker
images` print the same bytes. Stdlib only: the CLI imports this on every start.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

__all__ = [
    "HISTORY_EPOCH",
    "bytes_size",
    "cell_width",
    "ellipsis",
    "go_duration",
    "go_duration_ns",
    "human_duration",
    "human_rate",
    "human_size",
    "parse_go_duration",
    "parse_timestamp",
    "table",
    "time_ago",
    "truncate_id",
]

# --------------------------------------------------------------------------- sizes

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(size: float, base: float, units: Sequence[str]) -> tuple[float, str]:
    """Divide by `base` while it fits, exactly as go-units does (float division, same order)."""
    size = float(size)
    i = 0
    while size >= base and i < len(units) - 1:
        size = size / base
        i += 1
    return size, units[i]


def human_size(n: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: `docker images` uses 3 digits, HumanSize (df) uses 4."""
    size, unit = _scaled(n, 1000.0, _DECIMAL_UNITS)
    # Go's %.*g and Python's agree: shortest form, trailing zeros dropped, e+NN exponents,
    # so 999_500 bytes really prints as "1e+03kB" in docker too.
    return "%.*g%s" % (precision, size, unit)  # noqa: UP031 - %g semantics are the point


def human_rate(bytes_per_second: float) -> str:
    """A transfer speed: "98.1MB/s" (4 digits, so 999.5 kB/s never becomes "1e+03kB/s")."""
    return human_size(bytes_per_second, 4) + "/s"


def bytes_size(n: float) -> str:
    """go-units BytesSize: 4 significant digits in binary units ("1.5KiB", "44MiB")."""
    size, unit = _scaled(n, 1024.0, _BINARY_UNITS)
    return "%.4g%s" % (size, unit)  # noqa: UP031


# --------------------------------------------------------------------------- durations and ages


def human_duration(seconds: float | timedelta) -> str:
    """go-units HumanDuration: the coarse wording of docker's CREATED and STATUS columns."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    whole = math.trunc(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = math.trunc(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = math.trunc(seconds / 3600 + 0.5)  # hours round to nearest, the rest truncate
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{math.trunc(seconds / 3600) // 24 // 365} years"


_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_GO_ZERO = datetime(1, 1, 1, tzinfo=_UTC)  # Go's time.Time{}: docker treats it as "no date"
# `docker history` prints N/A for anything created up to 2000-01-01 (reproducible builds use 0).
HISTORY_EPOCH = datetime(2000, 1, 1, tzinfo=_UTC)
_MAX_DURATION_US = (2**63 - 1) // 1000  # Go's Duration saturates at ±292 years


def _aware(t: datetime) -> datetime:
    """Naive datetimes are taken as UTC, like the API's timestamps."""
    return t if t.tzinfo is not None else t.replace(tzinfo=_UTC)


def _unix_seconds(t: datetime) -> int:
    """Whole seconds since the epoch, floored like Go's Time.Unix()."""
    return (_aware(t) - _EPOCH) // timedelta(seconds=1)


def time_ago(then: datetime | None, now: datetime, *, history: bool = False) -> str:
    """docker's CREATED column ("3 hours ago"); `history=True` adds `docker history`'s N/A rule."""
    # The API gives whole seconds, so `then` is floored to one as docker sees it; a future
    # `then` reads "Less than a second ago" as in docker. `docker history` prints N/A for
    # dates up to 2000-01-01 (e.g. SOURCE_DATE_EPOCH=0), `docker images` only for no date.
    if then is None or _aware(then) == _GO_ZERO:
        return "N/A"
    secs = _unix_seconds(then)
    if history and secs <= _unix_seconds(HISTORY_EPOCH):
        return "N/A"
    delta_us = (_aware(now) - _EPOCH) // timedelta(microseconds=1) - secs * 1_000_000
    delta_us = max(-_MAX_DURATION_US, min(_MAX_DURATION_US, delta_us))
    return human_duration(delta_us / 1_000_000) + " ago"


# --------------------------------------------------------------------------- truncation


def _ellipsis_width(ch: str) -> int:
    """golang.org/x/text/width as docker's Ellipsis uses it: only wide and fullwidth count 2."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def ellipsis(s: str, max_width: int) -> str:
    """docker's formatter.Ellipsis: cut to `max_width` display cells, ending in "…"."""
    if max_width <= 0:
        return ""
    if max_width == 1:
        return s[:1]  # docker keeps the first character whatever its width
    if s.isascii():
        return s if len(s) <= max_width else s[: max_width - 1] + "…"
    widths: list[int] = []
    total = 0
    for ch in s:
        total += _ellipsis_width(ch)
        widths.append(total)
    if total <= max_width:
        return s
    limit = max_width - 1
    for i in range(len(widths) - 1):
        if widths[i] <= limit < widths[i + 1]:
            return s[: i + 1] + "…"
    # Only reached when the first character alone is wider than the room: docker then
    # returns the string untouched.
    return s


def truncate_id(image_id: str) -> str:
    """stringid.TruncateID: drop the algorithm ("sha256:") and keep 12 characters."""
    _, sep, rest = image_id.partition(":")
    if sep:
        image_id = rest
    return image_id[:12]


# --------------------------------------------------------------------------- tables

# docker's table formatter: tabwriter.NewWriter(out, minwidth=10, tabwidth=1, padding=3, ' ', 0)
_MINWIDTH = 10
_PADDING = 3


def _zero_width(ch: str) -> bool:
    """Characters go-runewidth gives no width: controls, format characters and marks."""
    cp = ord(ch)
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return True
    if 0x1160 <= cp <= 0x11FF:  # Hangul medial vowels and final consonants join the syllable
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc", "Cf", "Zl", "Zp", "Cs")


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def cell_width(s: str) -> int:
    """Display width as docker's tabwriter measures it (go-runewidth over grapheme clusters)."""
    if s.isascii() and s.isprintable():
        return len(s)
    width = 0
    after_zwj = False
    pending_ri = False
    for ch in s:
        if _zero_width(ch):
            after_zwj = ch == "\u200d"
            continue
        if after_zwj:  # emoji ZWJ sequence: one cluster, counted by its first emoji
            after_zwj = False
            continue
        if _is_regional_indicator(ch):
            if pending_ri:  # the second flag letter joins the first
                pending_ri = False
                continue
            pending_ri = True
        else:
            pending_ri = False
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


class _TabWriter:
    """Go's text/tabwriter (elastic tabstops) with docker's settings; left-aligned, space padded."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.lines: list[list[tuple[str, int, bool]]] = [[]]
        self.widths: list[int] = []
        self.pending = ""

    def write(self, text: str) -> None:
        for part in re.split(r"([\t\v\n\f])", text):
            if part in ("\t", "\v", "\n", "\f"):
                cell = (self.pending, cell_width(self.pending), part == "\t")
                self.pending = ""
                line = self.lines[-1]
                line.append(cell)
                if part in ("\n", "\f"):
                    self.lines.append([])
                    # A one-cell line cannot affect later columns, so tabwriter flushes there;
                    # that resets the column blocks, which shows when cells hold newlines.
                    if part == "\f" or len(line) == 1:
                        self.flush()
            else:
                self.pending += part

    def flush(self) -> None:
        if self.pending:
            self.lines[-1].append((self.pending, cell_width(self.pending), False))
            self.pending = ""
        self._format(0, len(self.lines))
        self.lines = [[]]
        self.widths = []

    def _format(self, line0: int, line1: int) -> None:
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            # A column block starts here: print what precedes it with the known widths.
            self._write_lines(line0, this)
            line0 = this
            width = _MINWIDTH
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, self.lines[this][column][1] + _PADDING)
                this += 1
            self.widths.append(width)
            self._format(line0, this)
            self.widths.pop()
            line0 = this
        self._write_lines(line0, line1)

    def _write_lines(self, line0: int, line1: int) -> None:
        out = self.out
        for i in range(line0, line1):
            for j, (text, width, _) in enumerate(self.lines[i]):
                out.append(text)
                if j < len(self.widths):
                    out.append(" " * (self.widths[j] - width))
            out.append(self.pending if i + 1 == len(self.lines) else "\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A docker table, byte for byte: header and rows through tabwriter as the CLI writes them."""
    # Every line ends in "\n"; all cells but the last of a row are padded, so a row whose last
    # cell is empty keeps the padding of the one before it (`docker history` does that).
    writer = _TabWriter()
    writer.write("\t".join(headers) + "\n")
    writer.write("".join("\t".join(row) + "\n" for row in rows))
    writer.flush()
    return "".join(writer.out)


# --------------------------------------------------------------------------- parsing

_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS = 1 << 63


def go_duration_ns(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds; ValueError with Go's wording.

    The one parser of Go durations here: HEALTHCHECK flags, `--until`, history's health text.
    """
    quoted = _go_quote(text)
    s = text
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while s:
        if s[0] not in ".0123456789":
            raise ValueError(f"time: invalid duration {quoted}")
        m = re.match(r"[0-9]*", s)
        assert m is not None
        digits = m.group()
        s = s[len(digits) :]
        value = int(digits) if digits else 0
        if value > _MAX_NS:
            raise ValueError(f"time: invalid duration {quoted}")
        frac, scale, post = 0, 1.0, False
        if s[:1] == ".":
            m = re.match(r"[0-9]*", s[1:])
            assert m is not None
            fdigits = m.group()
            s = s[1 + len(fdigits) :]
            post = bool(fdigits)
            overflow = False
            for d in fdigits:  # like Go: stop accumulating once more digits would overflow
                if overflow or frac > (_MAX_NS - 1) // 10:
                    overflow = True
                    continue
                y = frac * 10 + int(d)
                if y > _MAX_NS:
                    overflow = True
                    continue
                frac = y
                scale *= 10
        if not digits and not post:
            raise ValueError(f"time: invalid duration {quoted}")
        m = re.match(r"[^0-9.]*", s)
        assert m is not None
        unit_text = m.group()
        s = s[len(unit_text) :]
        if not unit_text:
            raise ValueError(f"time: missing unit in duration {quoted}")
        unit = _DURATION_UNITS.get(unit_text)
        if unit is None:
            raise ValueError(f"time: unknown unit {_go_quote(unit_text)} in duration {quoted}")
        if value > _MAX_NS // unit:
            raise ValueError(f"time: invalid duration {quoted}")
        value *= unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > _MAX_NS:
                raise ValueError(f"time: invalid duration {quoted}")
        total += value
        if total > _MAX_NS:
            raise ValueError(f"time: invalid duration {quoted}")
    if neg:
        return -total
    if total > _MAX_NS - 1:
        raise ValueError(f"time: invalid duration {quoted}")
    return total


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def go_duration(ns: int) -> str:
    """Go's time.Duration.String: `1m30s`, `1.5s`, `10ms`, `0s` (what docker prints and takes)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 1_000)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    secs, frac = divmod(u, 1_000_000_000)
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    s = _fraction(seconds * 1_000_000_000 + frac, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{s}"
    if minutes:
        return f"{sign}{minutes}m{s}"
    return sign + s


def parse_go_duration(text: str) -> timedelta:
    """Go's time.ParseDuration ("1h30m", "1.5h", "300ms", "-2m"); sub-microseconds are dropped."""
    ns = go_duration_ns(text)
    us = abs(ns) // 1000
    return timedelta(microseconds=-us if ns < 0 else us)


# The layouts docker's timetypes.GetTimestamp tries, by the shape of the value.
_DATE = r"(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2})"
_HOUR = r"T(?P<h>\d{1,2})"
_MIN = r":(?P<m>\d{2})"
# Go accepts a fraction after the seconds, with "." or ",", whether or not the layout has one.
_SEC = r":(?P<s>\d{2})(?:[.,](?P<f>\d+))?"
_ZONE = r"(?P<z>Z|[+-]\d{2}:\d{2})"


def _parse_layout(pattern: str, value: str, zone: int | None) -> datetime:
    """Go's time.Parse for one of GetTimestamp's layouts; `zone` is the offset for local ones."""
    m = re.fullmatch(pattern, value)
    if m is None:
        raise ValueError(f'cannot parse "{value}"')
    g = m.groupdict()
    year, month, day = int(g["Y"]), int(g["M"]), int(g["D"])
    hour, minute, sec = int(g.get("h") or 0), int(g.get("m") or 0), int(g.get("s") or 0)
    if not 1 <= month <= 12:
        raise ValueError(f'parsing time "{value}": month out of range')
    if hour >= 24 or minute >= 60 or sec >= 60:
        raise ValueError(f'parsing time "{value}": value out of range')
    try:
        naive = datetime(year, month, day, hour, minute, sec)
    except ValueError:
        raise ValueError(f'parsing time "{value}": day out of range') from None
    frac = g.get("f") or ""
    nanos = int((frac + "000000000")[:9]) if frac else 0
    z = g.get("z")
    if z is None:
        offset = zone or 0
    elif z == "Z":
        offset = 0
    else:
        hh, mm = int(z[1:3]), int(z[4:6])
        if hh > 24 or mm > 60:
            raise ValueError(f'parsing time "{value}": time zone offset out of range')
        offset = (hh * 60 + mm) * 60 * (-1 if z[0] == "-" else 1)
    seconds = (naive - datetime(1970, 1, 1)) // timedelta(seconds=1) - offset
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def parse_rfc3339(text: str | None) -> datetime | None:
    """RFC 3339 as Go writes it (up to nanoseconds, a zone or none: UTC), or None when absent
    or unreadable; Python's fromisoformat takes at most microseconds."""
    if not text:
        return None
    head, _, rest = text.partition(".")
    zone = ""
    if rest:
        digits = ""
        for i, ch in enumerate(rest):
            if ch.isdigit():
                digits += ch
            else:
                zone = rest[i:]
                break
        frac = "." + digits[:6].ljust(6, "0") if digits else ""
    else:
        frac = ""
        for sign in ("Z", "+", "-"):
            idx = head.rfind(sign)
            if idx > 10:
                head, zone = head[:idx], head[idx:]
                break
    zone = "+00:00" if zone in ("", "Z", "z") else zone
    try:
        dt = datetime.fromisoformat(head + frac + zone)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=_UTC)


def parse_timestamp(text: str, now: datetime) -> datetime:
    """The engine's reading of `until`/`since` filter values (timetypes.GetTimestamp)."""
    # Go durations count back from `now` to a whole second ("10m", "-1h"); "0" is the epoch;
    # RFC 3339 dates and times with or without a zone (zoneless ones take `now`'s offset), a
    # date alone, or unix seconds with an optional fraction ("1700000000.5").
    now = _aware(now)
    offset_td = now.utcoffset() or timedelta(0)
    if text != "0":
        try:
            ns = go_duration_ns(text)
        except ValueError:
            pass
        else:
            now_ns = (now - _EPOCH) // timedelta(microseconds=1) * 1000
            secs = (now_ns - ns) // 1_000_000_000
            return (_EPOCH + timedelta(seconds=secs)).astimezone(now.tzinfo)
    local = not any(c in text for c in "zZ+") and text.count("-") != 3
    if "." in text:
        pattern = _DATE + _HOUR + _MIN + _SEC + ("" if local else _ZONE)
    elif "T" in text:
        colons = text.count(":")
        if not local and "z" not in text and "Z" not in text and colons > 0:
            colons -= 1  # the zone offset's colon
        parts = [_DATE + _HOUR, _DATE + _HOUR + _MIN, _DATE + _HOUR + _MIN + _SEC]
        pattern = parts[min(colons, 2)] + ("" if local else _ZONE)
    else:
        pattern = _DATE + ("" if local else _ZONE)
    zone = int(offset_td.total_seconds()) if local else None
    try:
        parsed = _parse_layout(pattern, text, zone)
    except ValueError:
        if "-" in text:  # looked like a date: docker reports the parse error
            raise
        m = re.fullmatch(r"([+-]?\d+)(?:\.([+-]?\d+))?", text)
        if m is None:
            raise ValueError(f'failed to parse value as time or duration: "{text}"') from None
        secs = int(m.group(1))
        frac = m.group(2)
        # docker scales the fraction with a float, so more than 9 digits lose precision alike
        nanos = int(float(int(frac)) * math.pow(10, 9 - len(frac))) if frac else 0
        parsed = _EPOCH + timedelta(seconds=secs, microseconds=nanos // 1000)
    return parsed.astimezone(now.tzinfo)
