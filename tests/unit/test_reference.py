"""imgtui.reference against the shared table of docker's answers, plus matching and splitting."""

from __future__ import annotations

import pickle

import pytest

from imgtui.backends.base import BackendError, InvalidArgument, InvalidReference
from imgtui.reference import (
    Reference,
    ReferenceError,
    familiar,
    familiar_match,
    is_image_id,
    normalize,
    parse,
    parse_docker_ref,
    quote,
    split_repo_tag,
)
from tests.reference_cases import CASES, H64, MATCHES, SHA256, Case

VALID = [c for c in CASES if c.valid]
INVALID = [c for c in CASES if not c.valid]


def test_table_is_big_and_unique() -> None:
    texts = [c.text for c in CASES]
    assert len(texts) == len(set(texts))
    assert len(VALID) >= 30 and len(INVALID) >= 30


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.id)
def test_valid(case: Case) -> None:
    assert normalize(case.text) == case.normalized
    assert familiar(case.text) == case.familiar
    ref = parse_docker_ref(case.text)
    assert str(ref) == case.normalized
    assert ref.familiar() == case.familiar
    # parse() alone adds no tag
    bare = parse(case.text)
    assert bare.digest == ref.digest
    assert bare.tag == ref.tag or (bare.tag is None and ref.tag == "latest")


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid(case: Case) -> None:
    for func in (parse, parse_docker_ref, normalize, familiar):
        with pytest.raises(ReferenceError) as info:
            func(case.text)
        err = info.value
        assert err.reason == case.error
        assert err.text == case.text
        message = str(err)
        assert message.startswith(case.error.split(" (")[0])
        assert len(message.splitlines()) == 1
        # the input is quoted, unless docker's reason already names the repository
        assert quote(case.text) in message or "(" in case.error


def test_error_hierarchy() -> None:
    with pytest.raises(InvalidReference) as info:
        parse("a..b")
    assert isinstance(info.value, BackendError)
    assert info.value.exit_code == 2
    assert str(info.value) == 'invalid reference format: "a..b"'
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)


def test_lowercase_message_is_dockers() -> None:
    with pytest.raises(ReferenceError) as info:
        parse("library/Busybox")
    assert str(info.value) == (
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    )


def test_control_characters_stay_on_one_line() -> None:
    with pytest.raises(ReferenceError) as info:
        parse("Bus\nbox\u2028")
    assert str(info.value) == (
        r"invalid reference format: repository name (library/Bus\nbox\u2028) must be lowercase"
    )
    assert info.value.reason == (
        "invalid reference format: repository name (library/Bus\nbox\u2028) must be lowercase"
    )


def test_parts() -> None:
    ref = parse(f"localhost:5000/org/app:v1@{SHA256}")
    assert ref == Reference("localhost:5000", "org/app", "v1", SHA256)
    assert ref.name == "localhost:5000/org/app"
    assert ref.familiar_name == "localhost:5000/org/app"
    assert str(ref) == f"localhost:5000/org/app:v1@{SHA256}"

    hub = parse("busybox")
    assert hub == Reference("docker.io", "library/busybox", None, None)
    assert hub.name == "docker.io/library/busybox"
    assert hub.familiar_name == "busybox"
    assert str(hub) == "docker.io/library/busybox"
    assert hub.familiar() == "busybox"

    assert parse("ex_ample.com/app") == Reference("", "ex_ample.com/app")
    assert parse("org/app").familiar_name == "org/app"
    assert parse("docker.io/library/a/b").familiar_name == "library/a/b"


def test_with_tag() -> None:
    ref = parse("busybox")
    assert str(ref.with_tag("1.36")) == "docker.io/library/busybox:1.36"
    digested = parse(f"busybox@{SHA256}")
    assert digested.with_tag("x").familiar() == f"busybox:x@{SHA256}"
    assert ref.with_tag("A" * 128).tag == "A" * 128
    for tag in ("", "-x", ".x", "a b", "a:b", "A" * 129, "ä", "x\n"):
        with pytest.raises(ReferenceError) as info:
            ref.with_tag(tag)
        assert info.value.reason == "invalid tag format"
        assert str(info.value) == f"invalid tag format: {quote(tag)}"


def test_with_default_tag() -> None:
    assert parse("busybox").with_default_tag().tag == "latest"
    assert parse("busybox:1").with_default_tag().tag == "1"
    digested = parse(f"busybox@{SHA256}")
    assert digested.with_default_tag() is digested


def test_quote_like_go() -> None:
    assert quote("a") == '"a"'
    assert quote('a"b\\c') == r'"a\"b\\c"'
    assert quote("\t\n\x00\x7f") == r'"\t\n\x00\x7f"'
    assert quote("ä\u00a0") == r'"ä\u00a0"'
    assert quote("\U0001f433\U000e0001") == '"\U0001f433\\U000e0001"'


# ------------------------------------------------------------------------------------ matching


@pytest.mark.parametrize(("pattern", "ref", "expected"), MATCHES)
def test_familiar_match(pattern: str, ref: str, expected: bool) -> None:
    assert familiar_match(pattern, ref) is expected


@pytest.mark.parametrize(
    "pattern", ["[", "[]", "[]a]", "[-x]", "[a-]", "[a", "[^]", "\\", "a\\", "[a\\", "x*[", "*[z"]
)
def test_familiar_match_bad_pattern(pattern: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        familiar_match(pattern, "busybox:latest")
    assert str(info.value) == f"syntax error in pattern: {quote(pattern)}"


def test_familiar_match_bad_pattern_after_a_mismatch() -> None:
    # Go checks the rest of the pattern even once the name has failed to match
    with pytest.raises(InvalidArgument):
        familiar_match("zzz*[", "busybox:latest")


def test_familiar_match_refuses_bad_refs() -> None:
    with pytest.raises(ReferenceError):
        familiar_match("*", "Busybox")


# ------------------------------------------------------------------------------------ splitting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", ("busybox", None)),
        ("busybox:1.36", ("busybox", "1.36")),
        ("host:5000/a:b", ("host:5000/a", "b")),
        ("host:5000/a", ("host:5000/a", None)),
        ("host:5000/org/a:b", ("host:5000/org/a", "b")),
        ("localhost:5000", ("localhost", "5000")),  # docker reads this as a tag too
        ("[::1]:5000/a:b", ("[::1]:5000/a", "b")),
        ("[::1]:5000/a", ("[::1]:5000/a", None)),
        (f"busybox@{SHA256}", ("busybox", SHA256)),
        (f"host:5000/a:v1@{SHA256}", ("host:5000/a:v1", SHA256)),
        ("busybox:", ("busybox", "")),
        ("", ("", None)),
    ],
)
def test_split_repo_tag(text: str, expected: tuple[str, str | None]) -> None:
    assert split_repo_tag(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"sha256:{H64}", True),
        (H64, True),
        ("5eb5fdf9a03c", True),
        ("5", True),  # the engine resolves any unambiguous prefix
        ("sha256:5eb5", True),
        (f"{H64}0", False),
        ("5EB5FDF9", False),
        (f"SHA256:{H64}", False),
        (f"sha512:{H64}", False),
        ("sha256:", False),
        ("", False),
        ("busybox", False),
        ("5eb5fdf9a03c\n", False),
    ],
)
def test_is_image_id(text: str, expected: bool) -> None:
    assert is_image_id(text) is expected
