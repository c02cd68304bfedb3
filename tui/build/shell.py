"""Docker's word expansion: `$V`, `${V}`, `${V:-x}` and friends, quotes and escapes.

This is the small shell-like lexer docker applies to the arguments of ADD, ARG, COPY, ENV, EXPOSE,
FROM, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR (never to RUN, CMD, ENTRYPOINT or SHELL, whose
text the shell sees). Besides substituting variables it removes quotes and escape characters, so
`ENV A="a b"` stores `a b`. The escape character is the Dockerfile's (`\\` or a backtick).

Forms: `$NAME`, `${NAME}`, `${NAME:-word}` / `${NAME-word}` (default when empty-or-unset / unset),
`${NAME:+word}` / `${NAME+word}` (alternative when non-empty / set), `${NAME:?msg}` / `${NAME?msg}`
(error). `$1`, `$@`, `$$` and the other special parameters expand to nothing, as in docker. The
pattern forms (`${V#p}`, `${V%p}`, `${V/a/b}`) of recent BuildKit are not supported: they fail
with docker's "unsupported modifier" text. Engine 20.10's classic builder knows only the forms
with `:` (and its `${V:?}` fails only when V is unset); the colon-less forms and `:?` failing on
an empty value follow current BuildKit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from imgtui.backends.base import BuildError

__all__ = ["ExpansionError", "env_map", "expand", "expand_words"]

_SPECIAL = set("@*#?-$!0")


class ExpansionError(BuildError):
    """A word could not be expanded; the text is docker's `failed to process "…": reason`."""

    def __init__(self, word: str, reason: str):
        super().__init__(f'failed to process "{word}": {reason}')
        self.word = word
        self.reason = reason


def env_map(env: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """A name→value dict from a mapping or from `KEY=value` strings (the first of a name wins)."""
    if isinstance(env, Mapping):
        return dict(env)
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        out.setdefault(key, value if sep else "")
    return out


class _Words:
    """Docker's word splitting for ProcessWords: only unquoted, substituted spaces split."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
        return self.words


class _Lexer:
    def __init__(self, word: str, env: dict[str, str], escape: str) -> None:
        self.src = word
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def fail(self, reason: str) -> ExpansionError:
        return ExpansionError(self.src, reason)

    def stop_on(self, stop: str) -> tuple[str, list[str]]:
        """Read up to `stop` ("" = end of input); returns the text and its split words."""
        result: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch == "'":
                text = self.single_quote()
                result.append(text)
                words.add_raw(text)
            elif ch == '"':
                text = self.double_quote()
                result.append(text)
                words.add_raw(text)
            elif ch == "$":
                text = self.dollar()
                result.append(text)
                words.add_string(text)
            else:
                ch = self.next()
                if ch == self.escape:
                    ch = self.next()
                    if not ch:
                        break  # an escape at the very end is dropped
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise self.fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quote(self) -> str:
        self.next()
        out = []
        while True:
            ch = self.next()
            if not ch:
                raise self.fail(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out = []
        while True:
            ch = self.peek()
            if not ch:
                raise self.fail(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue  # a trailing escape is dropped
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        """A variable name: letters/digits/_; a leading digit run or one special character."""
        ch = self.peek()
        if ch.isdigit():
            start = self.pos
            while self.peek().isdigit():
                self.next()
            return self.src[start : self.pos]
        if ch and ch in _SPECIAL:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.src[start : self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        ch = self.peek()
        if not ch:
            raise self.fail("syntax error: missing '}'")
        if ch in "{}:":
            raise self.fail("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        if not ch:
            raise self.fail("syntax error: missing '}'")
        colon = ch == ":"
        modifier = self.next() if colon else ch
        if modifier not in ("-", "+", "?"):
            shown = (":" if colon else "") + modifier
            raise self.fail(f"unsupported modifier ({shown}) in substitution")
        try:
            word, _ = self.stop_on("}")
        except ExpansionError:
            if not self.peek():
                raise self.fail("syntax error: missing '}'") from None
            raise
        is_set = name in self.env
        value = self.env.get(name, "")
        usable = bool(value) if colon else is_set
        if modifier == "-":
            return value if usable else word
        if modifier == "+":
            return word if usable else ""
        if not usable:
            default = "is not allowed to be empty" if colon and is_set else None
            raise self.fail(f"{name}: {word or default or 'is not allowed to be unset'}")
        return value


def expand(word: str, env: Mapping[str, str] | Iterable[str] = (), escape: str = "\\") -> str:
    """Expand one word as docker's ProcessWord: substitutions done, quotes and escapes removed.

    `env` is the builder's running state (ENV values, then the build args it allows, ENV first);
    raises ExpansionError with docker's text.
    """
    text, _ = _Lexer(word, env_map(env), escape).stop_on("")
    return text


def expand_words(
    word: str, env: Mapping[str, str] | Iterable[str] = (), escape: str = "\\"
) -> list[str]:
    """Expand and split into words as docker's ProcessWords (EXPOSE: `$P` may hold "80 443")."""
    _, words = _Lexer(word, env_map(env), escape).stop_on("")
    return words
