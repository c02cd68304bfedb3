"""Word expansion: docker's table of forms, and properties that hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgtui.build.shell import ExpansionError, env_map, expand, expand_words

ENV = {"SET": "value", "EMPTY": "", "SPACED": "a b  c"}

# word → expansion; checked against engine 20.10 through corpus case 04 where it supports them.
TABLE = [
    ("$SET", "value"),
    ("${SET}", "value"),
    ("${SET}x", "valuex"),
    ("$SETx", ""),  # the name runs on
    ("$UNSET", ""),
    ("${UNSET:-d}", "d"),
    ("${EMPTY:-d}", "d"),
    ("${SET:-d}", "value"),
    ("${UNSET-d}", "d"),
    ("${EMPTY-d}", ""),  # set, though empty
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}-in}", "value-in"),
    ("\\$SET", "$SET"),
    ("\\${SET}", "${SET}"),
    ("'$SET'", "$SET"),
    ('"$SET"', "value"),
    ('"a \\"q\\" \\$SET \\\\ \\x"', 'a "q" $SET \\ \\x'),  # in "…" only \ " $ are escaped
    ("a\\ b", "a b"),
    ("$", "$"),
    ("a$", "a$"),
    ("$$", ""),  # special parameters expand to nothing
    ("$1x", "x"),
    ("$@", ""),
    ("pre\"$SET\"'$SET'post", "prevalue$SETpost"),
    ("trailing\\", "trailing"),
    ("${SET:?boom}", "value"),
]


@pytest.mark.parametrize(("word", "expected"), TABLE)
def test_expand_table(word: str, expected: str):
    assert expand(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("${UNCLOSED", "syntax error: missing '}'"),
        ("${", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:-x}", "syntax error: bad substitution"),
        ("${X:-unclosed", "syntax error: missing '}'"),
        ("${X#pattern}", "unsupported modifier (#) in substitution"),
        ("${X:=y}", "unsupported modifier (:=) in substitution"),
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("'open", "unexpected end of statement while looking for matching single-quote"),
        ('"open', "unexpected end of statement while looking for matching double-quote"),
    ],
)
def test_expand_errors(word: str, reason: str):
    with pytest.raises(ExpansionError) as info:
        expand(word, ENV)
    assert info.value.reason == reason
    assert str(info.value) == f'failed to process "{word}": {reason}'


def test_backtick_escape():
    """With `# escape=\\``, the backtick escapes and a backslash is an ordinary character."""
    assert expand("C:\\dir\\$SET", ENV, "`") == "C:\\dir\\value"
    assert expand("`$SET", ENV, "`") == "$SET"
    assert expand('"say `"hi`""', ENV, "`") == 'say "hi"'


def test_expand_words_splits_only_substituted_and_unquoted_space():
    assert expand_words("$SPACED", ENV) == ["a", "b", "c"]
    assert expand_words('"$SPACED"', ENV) == ["a b  c"]
    assert expand_words("x\\ y z", ENV) == ["x y", "z"]
    assert expand_words("80 $EMPTY 443/udp", ENV) == ["80", "443/udp"]


def test_env_accepts_docker_lists():
    assert env_map(["A=1", "B=x=y", "A=2", "C"]) == {"A": "1", "B": "x=y", "C": ""}
    assert expand("$A$B", ["A=1", "B=x=y"]) == "1x=y"


# ------------------------------------------------------------------------------- properties

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
plain = st.text(
    alphabet=st.characters(blacklist_characters="$'\"\\`", blacklist_categories=("Cs",)),
    max_size=20,
)
anything = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
envs = st.dictionaries(names, plain, max_size=5)


@given(plain)
def test_plain_text_is_unchanged(text: str):
    assert expand(text, {}) == text


@given(envs, names)
def test_variable_forms_agree(env: dict[str, str], name: str):
    value = env.get(name, "")
    assert expand(f"${name}", env) == value
    assert expand(f"${{{name}}}", env) == value


@given(envs, names, plain.filter(lambda s: "}" not in s))
def test_default_and_alternative(env: dict[str, str], name: str, word: str):
    value = env.get(name)
    assert expand(f"${{{name}:-{word}}}", env) == (value or word)
    assert expand(f"${{{name}-{word}}}", env) == (word if value is None else value)
    assert expand(f"${{{name}:+{word}}}", env) == (word if value else "")
    assert expand(f"${{{name}+{word}}}", env) == ("" if value is None else word)


@pytest.mark.parametrize("escape", ["\\", "`"])
@given(text=anything)
def test_escaping_every_special_character_round_trips(escape: str, text: str):
    escaped = "".join(escape + ch if ch in f"$'\"{escape}" else ch for ch in text)
    assert expand(escaped, {"X": "no"}, escape) == text


@given(anything.filter(lambda s: "'" not in s))
def test_single_quotes_are_literal(text: str):
    assert expand(f"'{text}'", {"X": "no"}) == text


@given(st.lists(st.from_regex(r"[a-z0-9/]{1,6}", fullmatch=True), min_size=1, max_size=5))
def test_words_split_like_the_shell(words: list[str]):
    assert expand_words(" ".join(words), {}) == words
    assert expand_words("$ALL", {"ALL": "  ".join(words)}) == words
