"""Properties of imgtui.reference over generated references (hypothesis)."""

from __future__ import annotations

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imgtui.reference import (
    ReferenceError,
    familiar,
    familiar_match,
    is_image_id,
    normalize,
    parse,
    parse_docker_ref,
    split_repo_tag,
)

FAST = settings(max_examples=100, deadline=None)

LOWER_ALNUM = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdefABCDEF"
alnum = st.text(LOWER_ALNUM, min_size=1, max_size=6)
separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def components(draw: st.DrawFn) -> str:
    """One path component: alphanumeric runs joined by docker's separators."""
    parts = [draw(alnum)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(separator), draw(alnum)]
    return "".join(parts)


paths = st.lists(components(), min_size=1, max_size=4).map("/".join)
label = st.builds(
    lambda a, b: f"{a}-{b}" if b else a,
    st.text(ALNUM, min_size=1, max_size=4),
    st.text(ALNUM, max_size=3),
)
hosts = st.one_of(
    st.just("localhost"),
    st.lists(label, min_size=2, max_size=3).map(".".join),
    # docker takes a first part for a host only with a "." or ":", so "[0]" is a Hub namespace
    st.builds(lambda a, b: f"[{a}:{b}]", st.text(HEX + ":", max_size=5), st.text(HEX, max_size=5)),
)
domains = st.tuples(hosts, st.one_of(st.none(), st.integers(0, 65535))).map(
    lambda hp: hp[0] if hp[1] is None else f"{hp[0]}:{hp[1]}"
)
tags = st.builds(
    str.__add__,
    st.sampled_from(ALNUM + "_"),
    st.text(ALNUM + "_.-", max_size=20),
)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
digests = hexes.map(lambda h: f"sha256:{h}")


@st.composite
def references(draw: st.DrawFn) -> str:
    """Valid reference texts: optional domain, path, optional tag and digest."""
    domain = draw(st.one_of(st.none(), domains))
    text = draw(paths) if domain is None else f"{domain}/{draw(paths)}"
    if draw(st.booleans()):
        text += ":" + draw(tags)
    if draw(st.booleans()):
        text += "@" + draw(digests)
    return text


def _literal(text: str) -> str:
    """A path.Match pattern matching just `text` ("[::1]" holds a bracket expression)."""
    return "".join("\\" + ch if ch in "*?[\\" else ch for ch in text)


@FAST
@given(references())
def test_generated_references_parse(text: str) -> None:
    ref = parse(text)
    assert ref.path
    assert ref.tag is None or f":{ref.tag}" in text
    assert ref.digest is None or text.endswith(f"@{ref.digest}")


@FAST
@given(references())
def test_round_trips(text: str) -> None:
    ref = parse(text)
    assert parse(str(ref)) == ref
    assert parse(ref.familiar()) == ref
    full = parse_docker_ref(text)
    assert parse(normalize(text)) == full
    assert familiar(normalize(text)) == familiar(text)
    assert normalize(familiar(text)) == normalize(text)
    assert full.with_default_tag() is full


@FAST
@given(references())
def test_familiar_form_drops_only_hub_defaults(text: str) -> None:
    ref = parse_docker_ref(text)
    short = ref.familiar()
    assert not short.startswith("docker.io/")
    assert str(ref).endswith(short.removeprefix("library/"))
    assert familiar_match(_literal(short), short)
    assert familiar_match(_literal(ref.familiar_name), short)


@FAST
@given(paths, st.data())
def test_uppercase_in_the_path_is_refused(path: str, data: st.DataObject) -> None:
    letters = [i for i, ch in enumerate(path) if ch.isalpha()]
    assume(letters)
    i = data.draw(st.sampled_from(letters))
    upper = path[:i] + path[i].upper() + path[i + 1 :]
    prefix = data.draw(st.sampled_from(["", "docker.io/", "localhost/", "ghcr.io:5000/"]))
    first_is_domain = not prefix and "/" in upper and upper.split("/")[0] != path.split("/")[0]
    assume(not first_is_domain)  # "Org/app": an uppercase first part is taken as a host
    try:
        parse(prefix + upper)
    except ReferenceError as e:
        assert "lowercase" in e.reason
    else:
        raise AssertionError(f"accepted {prefix + upper!r}")


@FAST
@given(paths, tags)
def test_tags_may_be_any_case(path: str, tag: str) -> None:
    ref = parse(f"{path}:{tag}")
    assert ref.tag == tag
    assert parse(f"{path}:{tag.upper()}").tag == tag.upper()


@FAST
@given(st.text(max_size=40))
def test_any_text_parses_or_fails_in_one_line(text: str) -> None:
    try:
        ref = parse(text)
    except ReferenceError as e:
        assert e.reason
        assert e.text == text
        assert len(str(e).splitlines()) == 1
    else:
        assert parse(str(ref)) == ref


@FAST
@given(references())
def test_split_repo_tag_is_lossless(text: str) -> None:
    repo, tag = split_repo_tag(text)
    if tag is None:
        assert repo == text
    else:
        assert text in (f"{repo}:{tag}", f"{repo}@{tag}")
        assert "/" not in tag


@FAST
@given(st.text("0123456789abcdef", min_size=1, max_size=64), st.booleans())
def test_hex_prefixes_are_ids(hex_id: str, prefixed: bool) -> None:
    assert is_image_id(f"sha256:{hex_id}" if prefixed else hex_id)
    assert not is_image_id(hex_id.upper() + "G")


@FAST
@given(hexes)
def test_64_hex_names_are_refused_alone_only(hex_id: str) -> None:
    try:
        parse(hex_id)
    except ReferenceError as e:
        assert "64-byte hexadecimal" in e.reason
    else:
        raise AssertionError("accepted a bare 64-hex name")
    assert parse(f"org/{hex_id}").path == f"org/{hex_id}"
    assert parse(f"{hex_id}:tag").tag == "tag"
