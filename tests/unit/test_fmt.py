"""imgtui.fmt against docker's own rules (go-units, docker/cli formatter, text/tabwriter)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from imgtui.fmt import (
    bytes_size,
    cell_width,
    ellipsis,
    go_duration,
    go_duration_ns,
    human_duration,
    human_size,
    parse_go_duration,
    parse_rfc3339,
    parse_timestamp,
    table,
    time_ago,
    truncate_id,
)

UTC = timezone.utc
NOW = datetime(2024, 5, 17, 12, 0, 0, tzinfo=UTC)

MIN = 60
HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
YEAR = 365 * DAY

# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0B"),
        (1, "1B"),
        (999, "999B"),
        (1000, "1kB"),
        (1001, "1kB"),
        (1499, "1.5kB"),
        (5600, "5.6kB"),
        (99_949, "99.9kB"),
        (99_950, "100kB"),
        (999_499, "999kB"),
        # %.3g of 999.5 rounds to 1000 and switches to exponent form: docker prints this too.
        (999_500, "1e+03kB"),
        (999_999, "1e+03kB"),
        (1_000_000, "1MB"),
        (1_982_000, "1.98MB"),
        (1_985_000, "1.99MB"),  # the double nearest 1.985 is a hair above it
        (999_999_999, "1e+03MB"),
        (1_000_000_000, "1GB"),
        (1_230_000_000, "1.23GB"),
        (5_372_000_000_000, "5.37TB"),
        (10**24, "1YB"),
        (10**27, "1e+03YB"),
        (-5, "-5B"),
        (12.5, "12.5B"),
    ],
)
def test_human_size_three_digits_like_docker_images(n: float, expected: str) -> None:
    assert human_size(n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # go-units' own expectations for HumanSize (precision 4)
        (1000, "1kB"),
        (1024, "1.024kB"),
        (1_000_000, "1MB"),
        (1_048_576, "1.049MB"),
        (2_000_000, "2MB"),
        (3_420_000_000, "3.42GB"),
        (5_372_000_000_000, "5.372TB"),
        (2_220_000_000_000_000, "2.22PB"),
        (10**28, "1e+04YB"),
        (999_500, "999.5kB"),
        (999_950, "1000kB"),
        (999_999_999, "1000MB"),
        (0, "0B"),
    ],
)
def test_human_size_four_digits_like_system_df(n: float, expected: str) -> None:
    assert human_size(n, 4) == expected


def test_human_size_rounding_follows_the_binary_value() -> None:
    # Go and Python both round the exact binary value of the scaled size.
    assert human_size(1_985_000) == "%.3gMB" % (1_985_000 / 1000 / 1000)
    assert human_size(1_125, 3) == "1.12kB"  # exact half: round half to even, as Go does


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (1536, "1.5KiB"),
        (1024 * 1024, "1MiB"),
        (2 * 1024**2, "2MiB"),
        (17 * 1024**2, "17MiB"),
        (3.42 * 1024**3, "3.42GiB"),
        (5.372 * 1024**4, "5.372TiB"),
        (2.22 * 1024**5, "2.22PiB"),
        (1024**5 * 1024**5, "1.049e+06YiB"),
        (999_500, "976.1KiB"),
    ],
)
def test_bytes_size(n: float, expected: str) -> None:
    assert bytes_size(n) == expected


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "Less than a second"),
        (0, "Less than a second"),
        (0.45, "Less than a second"),
        (0.999, "Less than a second"),
        (1, "1 second"),
        (1.999, "1 second"),
        (2, "2 seconds"),
        (45, "45 seconds"),
        (59.99, "59 seconds"),
        (60, "About a minute"),
        (119.9, "About a minute"),
        (120, "2 minutes"),
        (35 * MIN + 40, "35 minutes"),
        (59 * MIN + 59, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MIN + 59, "About an hour"),
        (HOUR + 30 * MIN, "2 hours"),  # hours round to nearest
        (HOUR + 31 * MIN, "2 hours"),
        (3 * HOUR + 29 * MIN, "3 hours"),
        (3 * HOUR + 31 * MIN, "4 hours"),
        (24 * HOUR, "24 hours"),
        (DAY + 12 * HOUR, "36 hours"),
        (47 * HOUR + 29 * MIN, "47 hours"),
        (47 * HOUR + 30 * MIN, "2 days"),
        (2 * DAY, "2 days"),
        (7 * DAY, "7 days"),
        (13 * DAY + 23 * HOUR + 29 * MIN, "13 days"),
        (13 * DAY + 23 * HOUR + 30 * MIN, "2 weeks"),
        (2 * WEEK + 4 * DAY, "2 weeks"),
        (3 * WEEK, "3 weeks"),
        (MONTH, "4 weeks"),
        (MONTH + 2 * WEEK, "6 weeks"),
        (2 * MONTH - 31 * MIN, "8 weeks"),
        (2 * MONTH - 30 * MIN, "2 months"),
        (2 * MONTH, "2 months"),
        (5 * MONTH + 2 * WEEK, "5 months"),
        (13 * MONTH, "13 months"),
        (24 * MONTH, "24 months"),
        # Just under two years the rounded hours reach the "years" branch, which then divides
        # the unrounded hours: docker really prints "1 years" for those 30 minutes.
        (2 * YEAR - 30 * MIN, "1 years"),
        (24 * MONTH + 2 * WEEK, "2 years"),
        (3 * YEAR + 2 * MONTH, "3 years"),
        (60 * YEAR, "60 years"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_human_duration_takes_timedelta() -> None:
    assert human_duration(timedelta(minutes=3)) == "3 minutes"


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        (NOW - timedelta(seconds=47), "47 seconds ago"),
        (NOW - timedelta(hours=3), "3 hours ago"),
        (NOW - timedelta(weeks=2), "2 weeks ago"),
        (NOW, "Less than a second ago"),
        (NOW + timedelta(days=3), "Less than a second ago"),  # clock skew: docker says this
        # docker only gets whole seconds: 1.5 s ago is floored to a creation 2 s ago
        (NOW - timedelta(seconds=1, microseconds=500_000), "2 seconds ago"),
        (datetime(1970, 1, 1, tzinfo=UTC), "54 years ago"),
        (None, "N/A"),
        (datetime(1, 1, 1, tzinfo=UTC), "N/A"),
    ],
)
def test_time_ago_images(then: datetime | None, expected: str) -> None:
    assert time_ago(then, NOW) == expected


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), "N/A"),
        (datetime(2000, 1, 1, tzinfo=UTC), "N/A"),
        (datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC), "24 years ago"),
        (NOW - timedelta(minutes=5), "5 minutes ago"),
        (None, "N/A"),
    ],
)
def test_time_ago_history_hides_dates_up_to_2000(then: datetime | None, expected: str) -> None:
    assert time_ago(then, NOW, history=True) == expected


def test_time_ago_naive_means_utc_and_zones_compare_as_instants() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert time_ago(datetime(2024, 5, 17, 9, 0, 0), NOW) == "3 hours ago"
    assert time_ago(datetime(2024, 5, 17, 11, 0, 0, tzinfo=plus2), NOW) == "3 hours ago"


# --------------------------------------------------------------------------- truncation


@pytest.mark.parametrize(
    ("s", "width", "expected"),
    [
        ("abcdef", 4, "abc…"),
        ("abcd", 4, "abcd"),
        ("abc", 10, "abc"),
        ("abc", 0, ""),
        ("abc", -3, ""),
        ("abc", 1, "a"),
        ("", 1, ""),
        ("", 5, ""),
        ("日本語", 1, "日"),  # the first character whatever its width
        ("日本語", 2, "日本語"),  # no character fits before "…": docker leaves it whole
        ("日本語", 3, "日…"),
        ("日本語", 4, "日…"),
        ("日本語", 5, "日本…"),
        ("日本語", 6, "日本語"),
        ("a日b", 3, "a…"),
        ("ＡＢＣ", 4, "Ａ…"),  # fullwidth letters count 2
        # combining marks count 1 in docker's Ellipsis (unlike its tabwriter)
        ("e\u0301e\u0301e\u0301", 6, "e\u0301e\u0301e\u0301"),
        ("e\u0301e\u0301e\u0301", 4, "e\u0301e…"),
        ("é" * 10, 5, "éééé…"),
        ('/bin/sh -c #(nop)  CMD ["sh"]' * 2, 45, '/bin/sh -c #(nop)  CMD ["sh"]/bin/sh -c #(no…'),
    ],
)
def test_ellipsis(s: str, width: int, expected: str) -> None:
    assert ellipsis(s, width) == expected


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        ("sha256:e980c7d5bb44c2a327dd580be36286689da2847469a009f4b9692db83f921bdc", "e980c7d5bb44"),
        ("e980c7d5bb44c2a327dd580be36286689da2847469a009f4b9692db83f921bdc", "e980c7d5bb44"),
        ("<missing>", "<missing>"),
        ("sha512:abcdef", "abcdef"),
        ("", ""),
    ],
)
def test_truncate_id(image_id: str, expected: str) -> None:
    assert truncate_id(image_id) == expected


# --------------------------------------------------------------------------- tables


def test_table_history_layout_with_trailing_padding() -> None:
    out = table(
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        [["e980c7d5bb44", "2 hours ago", "", "1.98MB", "Imported from -"]],
    )
    assert out == (
        "IMAGE          CREATED       CREATED BY   SIZE      COMMENT\n"
        "e980c7d5bb44   2 hours ago                1.98MB    Imported from -\n"
    )


def test_table_pads_every_column_but_the_last() -> None:
    out = table(["A", "B", "C"], [["x", "", ""], ["", "y", "z"]])
    # minimum width 10 (padding included); the last cell is never padded
    assert out == ("A         B         C\nx                   \n          y         z\n")


def test_table_column_width_is_longest_plus_three() -> None:
    out = table(["REPOSITORY", "TAG"], [["imgtui-test/busybox", "latest"]])
    assert out == "REPOSITORY            TAG\nimgtui-test/busybox   latest\n"


def test_table_without_rows_is_the_header() -> None:
    assert table(["REPOSITORY", "TAG", "SIZE"], []) == "REPOSITORY   TAG       SIZE\n"


@pytest.mark.parametrize(
    ("cell", "width"),
    [
        ("abc", 3),
        ("日本語", 6),
        ("e\u0301", 1),  # combining mark adds nothing in tabwriter
        ("ＡＢ", 4),
        ("👨\u200d👩\u200d👧", 2),  # one emoji ZWJ cluster
        ("🇫🇷", 1),  # a flag: two regional indicators, one cluster of width 1
        ("\u200b", 0),
        ("a\x07b", 2),
        ("한글", 4),
    ],
)
def test_cell_width(cell: str, width: int) -> None:
    assert cell_width(cell) == width


def test_table_aligns_wide_cells_by_display_width() -> None:
    out = table(["NAME", "X"], [["日本語のなまえ", "1"], ["ab", "2"]])
    assert out == "NAME             X\n日本語のなまえ   1\nab               2\n"


def test_table_cell_with_newline_ends_the_row_early() -> None:
    # The text after the newline starts a new line of cells, aligned with the others.
    out = table(["ID", "BY", "SIZE"], [["a", "RUN x\ny", "1B"], ["bb", "z", "2B"]])
    assert out == (
        "ID        BY        SIZE\na         RUN x\ny         1B\nbb        z         2B\n"
    )


def test_table_one_cell_line_flushes_and_restarts_the_columns() -> None:
    # tabwriter flushes after a line of a single cell: the rows after it get their own widths.
    out = table(["X", "Y"], [["long-value", "1"], ["a\nb", "c"], ["d", "e"]])
    assert out == "X            Y\nlong-value   1\na\nb         c\nd         e\n"


def test_table_tab_inside_a_cell_makes_an_extra_column() -> None:
    out = table(["A", "B"], [["x\ty", "z"]])
    assert out == "A         B\nx         y         z\n"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("+0", timedelta(0)),
        ("-0", timedelta(0)),
        ("10s", timedelta(seconds=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (".5m", timedelta(seconds=30)),
        ("5.m", timedelta(minutes=5)),
        ("300ms", timedelta(milliseconds=300)),
        ("2us", timedelta(microseconds=2)),
        ("2µs", timedelta(microseconds=2)),
        ("2μs", timedelta(microseconds=2)),
        ("1500ns", timedelta(microseconds=1)),  # below a microsecond is dropped
        ("-2m3s", -timedelta(minutes=2, seconds=3)),
        ("1h1m1s1ms", timedelta(hours=1, minutes=1, seconds=1, milliseconds=1)),
        ("2562047h", timedelta(hours=2562047)),
        ("24h", timedelta(days=1)),
    ],
)
def test_parse_go_duration(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "1", "10", "h", ".", "-", "1d", "1hx", "1.h.", "3000000h", "9223372036854775808ns", " 1h"],
)
def test_parse_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time: "):
        parse_go_duration(text)


PLUS2 = timezone(timedelta(hours=2))
NOW_PLUS2 = datetime(2024, 5, 17, 14, 0, 0, 500_000, tzinfo=PLUS2)  # = 12:00:00.5 UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # durations count back from now and keep whole seconds, as docker does
        ("10m", datetime(2024, 5, 17, 11, 50, 0, tzinfo=UTC)),
        ("1h30m", datetime(2024, 5, 17, 10, 30, 0, tzinfo=UTC)),
        ("1.5s", datetime(2024, 5, 17, 11, 59, 59, tzinfo=UTC)),
        ("-1h", datetime(2024, 5, 17, 13, 0, 0, tzinfo=UTC)),
        # "0" is not a duration here but the unix time 0
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000.5", datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC)),
        ("1700000000.000000001", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        # dates and times without a zone are read in now's zone (+02:00 here)
        ("2024-01-02", datetime(2024, 1, 1, 22, 0, 0, tzinfo=UTC)),
        ("2024-01-02T10", datetime(2024, 1, 2, 8, 0, 0, tzinfo=UTC)),
        ("2024-01-02T1", datetime(2024, 1, 1, 23, 0, 0, tzinfo=UTC)),
        ("2024-01-02T10:11", datetime(2024, 1, 2, 8, 11, 0, tzinfo=UTC)),
        ("2024-01-02T10:11:12", datetime(2024, 1, 2, 8, 11, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12.25", datetime(2024, 1, 2, 8, 11, 12, 250_000, tzinfo=UTC)),
        # with a zone
        ("2024-01-02Z", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02+01:00", datetime(2024, 1, 1, 23, 0, 0, tzinfo=UTC)),
        ("2024-01-02T10Z", datetime(2024, 1, 2, 10, 0, 0, tzinfo=UTC)),
        ("2024-01-02T10:11Z", datetime(2024, 1, 2, 10, 11, 0, tzinfo=UTC)),
        ("2024-01-02T10:11+01:00", datetime(2024, 1, 2, 9, 11, 0, tzinfo=UTC)),
        ("2024-01-02T10:11:12Z", datetime(2024, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12-03:30", datetime(2024, 1, 2, 13, 41, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12.123456789Z", datetime(2024, 1, 2, 10, 11, 12, 123456, tzinfo=UTC)),
        ("2024-01-02T10:11:12,5Z", datetime(2024, 1, 2, 10, 11, 12, 500_000, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    got = parse_timestamp(text, NOW_PLUS2)
    assert got == expected
    assert got.utcoffset() == timedelta(hours=2)  # returned in now's zone


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-13-01",
        "2023-02-29",
        "2024-01-02T25:00:00Z",
        "2024-01-02T10:61",
        "2024-1-2",
        "2024-01-02 10:11:12",
        "2024-01-02T10:11:12z",
        "1.2.3",
        "12abc",
    ],
)
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text, NOW)


def test_parse_timestamp_with_naive_now_is_utc() -> None:
    assert parse_timestamp("2024-01-02", datetime(2024, 5, 1)) == datetime(2024, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T10:26:10Z", datetime(2026, 11, 30, 10, 26, 10, tzinfo=timezone.utc)),
        (
            "2026-11-30T10:26:10.123456789Z",
            datetime(2026, 11, 30, 10, 26, 10, 123456, tzinfo=timezone.utc),
        ),
        (
            "2026-11-30T11:26:10.5+01:00",
            datetime(2026, 11, 30, 10, 26, 10, 500000, tzinfo=timezone.utc),
        ),
        ("2026-11-30T05:26:10-05:00", datetime(2026, 11, 30, 10, 26, 10, tzinfo=timezone.utc)),
        ("2026-11-30T10:26:10", datetime(2026, 11, 30, 10, 26, 10, tzinfo=timezone.utc)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_rfc3339(text, expected) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (7, "7ns"),
        (1_500, "1.5µs"),
        (10_000_000, "10ms"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_601_000_000_001, "1h0m1.000000001s"),
        (-1_500_000_000, "-1.5s"),
    ],
)
def test_go_duration_is_go_duration_string(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_go_duration_round_trips_through_the_parser() -> None:
    """What docker prints it takes back, to the nanosecond (the reconstructed HEALTHCHECK)."""
    rnd = random.Random(5)
    for _ in range(20_000):
        ns = rnd.randrange(-(2**62), 2**62) // rnd.choice((1, 1_000, 10**6, 10**9))
        assert go_duration_ns(go_duration(ns)) == ns, ns
